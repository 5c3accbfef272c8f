// Booked video calls on the therapist's dashboard, per patient: book one for a date and
// time (the therapist's own time zone; the patient reads it in theirs), move or cancel it
// (the patient is e-mailed a calendar entry that follows), download its calendar file.
import { download, when } from "/static/clinic.js";
import { $, el } from "/static/dom.js";

/** "2026-12-03" + "10:30" in this browser's time zone → an ISO instant with its offset. */
function instant(day, time) {
  return new Date(`${day}T${time}`).toISOString();
}

function told(reply) {
  const sent = reply.patient_told && reply.patient_told.sent;
  if (sent === true) return "The patient has it by e-mail, with a calendar entry.";
  if (sent === false) return "The e-mail could not be sent: the call is on the patient's plan; tell them yourself.";
  return "E-mail is not set up on this server: the call is on the patient's plan; tell them yourself.";
}

/** Patient ``p``'s calls still to come or under way (begun within the hour), soonest
 * first: the dashboard's lists and "next session" all read them from here. */
export function upcoming(p) {
  const now = Date.now() - 3600_000;
  return p.sessions
    .filter((s) => s.kind === "live" && s.status === "scheduled" && Date.parse(s.scheduled_at) >= now)
    .sort((a, b) => Date.parse(a.scheduled_at) - Date.parse(b.scheduled_at));
}

/** Shows patient ``p``'s booked calls. ``call``: the clinic API with the therapist's
 * token; ``token`` for downloads; ``join(id)`` opens the call; ``changed()`` reloads the
 * patient's sessions and shows them again. */
export function showCalls(p, { call, token, join, changed }) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("book-hint").textContent = `Times are in your time zone (${zone}); ${p.name} sees them in theirs (${p.timezone || "UTC"}).`;
  $("book-status").textContent = "";
  $("book-error").textContent = "";
  const list = $("calls");
  list.replaceChildren();
  for (const s of upcoming(p)) {
    const li = el("li", null, { "data-call": String(s.id) });
    li.append(el("span", `${when(s.scheduled_at)} `));
    const joinButton = el("button", "Join", { type: "button", class: "secondary" });
    joinButton.addEventListener("click", () => join(s.id));
    const move = el("button", "Move", { type: "button", class: "secondary", "aria-label": `Move the call on ${when(s.scheduled_at)}` });
    const cancel = el("button", "Cancel", { type: "button", class: "secondary", "aria-label": `Cancel the call on ${when(s.scheduled_at)}` });
    const ics = el("button", "Calendar file", { type: "button", class: "secondary", "aria-label": `Calendar file for the call on ${when(s.scheduled_at)}` });
    ics.addEventListener("click", async () => {
      try { await download(`/sessions/${s.id}/calendar.ics`, token, `video-call-${s.id}.ics`); } catch (err) { $("book-error").textContent = err.message; }
    });
    cancel.addEventListener("click", async () => {
      if (!confirm(`Cancel the video call on ${when(s.scheduled_at)}? ${p.name} is told by e-mail.`)) return;
      try {
        const reply = await call(`/sessions/${s.id}/cancel`, { method: "POST" });
        await changed();
        $("book-status").textContent = `Cancelled. ${told(reply)}`;
      } catch (err) { $("book-error").textContent = `Not cancelled: ${err.message}`; }
    });
    move.addEventListener("click", () => li.append(moveForm(s, { call, changed })));
    li.append(joinButton, " ", move, " ", cancel, " ", ics);
    list.append(li);
  }
  if (!list.children.length) list.append(el("li", "No video call booked."));
}

function moveForm(s, { call, changed }) {
  const form = el("form", null, { class: "practice-row move-form" });
  const local = new Date(s.scheduled_at);
  const pad = (n) => String(n).padStart(2, "0");
  const dayId = `move-date-${s.id}`, timeId = `move-time-${s.id}`;
  const day = el("input", null, { id: dayId, type: "date", required: "" });
  day.value = `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}`;
  const time = el("input", null, { id: timeId, type: "time", required: "", step: "300" });
  time.value = `${pad(local.getHours())}:${pad(local.getMinutes())}`;
  form.append(
    el("label", "New date", { for: dayId }), day,
    el("label", "New time", { for: timeId }), time,
    el("button", "Save the new time", { type: "submit" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const reply = await call(`/sessions/${s.id}`, { method: "PATCH", body: { scheduled_at: instant(day.value, time.value) } });
      await changed();
      $("book-status").textContent = `Moved to ${when(reply.scheduled_at)}. ${told(reply)}`;
    } catch (err) { $("book-error").textContent = `Not moved: ${err.message}`; }
  });
  return form;
}

/** Wires the booking form once; ``current()`` is the patient shown. */
export function wireBooking({ current, call, changed }) {
  $("book-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const p = current();
    if (!p) return;
    $("book-error").textContent = "";
    try {
      const body = { kind: "live", scheduled_at: instant($("book-date").value, $("book-time").value) };
      if (Date.parse(body.scheduled_at) < Date.now()) throw new Error("Choose a time still to come.");
      const reply = await call(`/patients/${p.id}/sessions`, { method: "POST", body });
      await changed();
      $("book-status").textContent = `Booked for ${when(reply.scheduled_at)}. ${told(reply)}`;
    } catch (err) { $("book-error").textContent = `Not booked: ${err.message}`; }
  });
}
