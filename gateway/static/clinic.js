// clinic.js: the clinic's JSON API (/clinic/api, mounted in the gateway) for the pages.
// Sign-in tokens: a therapist's lives in sessionStorage (gone when the tab closes); a
// patient's in localStorage (from their magic link, so the reminder link works again
// tomorrow on their own device).
import { api, ApiError } from "/static/telerehab.js";

export const CLINIC_API = "/clinic/api";
const KEY = { therapist: "telerehab-clinic-therapist", patient: "telerehab-clinic-patient" };
const store = (who) => (who === "therapist" ? sessionStorage : localStorage);

export function clinicToken(who) {
  return store(who).getItem(KEY[who]);
}

export function saveClinicToken(who, token) {
  if (token) store(who).setItem(KEY[who], token);
  else store(who).removeItem(KEY[who]);
}

/** Calls the clinic API; a 404 for the API itself means the clinic is not mounted here. */
export async function clinic(path, token, options = {}) {
  try {
    return await api(`${CLINIC_API}${path}`, token, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === "http_404") {
      throw new ApiError(404, "no_clinic", "The clinic is not running on this server (TELEREHAB_CLINIC=0).");
    }
    throw err;
  }
}

/** Downloads a binary (the PDF report) with the bearer token and saves it under `name`. */
export async function download(path, token, name) {
  const res = await fetch(`${CLINIC_API}${path}`, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!res.ok) {
    let message = `The server answered with error ${res.status}.`;
    try { message = (await res.json()).error.message || message; } catch { /* not JSON */ }
    throw new ApiError(res.status, `http_${res.status}`, message);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "–");

export { el } from "/static/dom.js";
