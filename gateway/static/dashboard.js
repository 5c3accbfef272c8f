// The therapist's clinic dashboard: sign in, patients (programme, next session, referral
// flags), upcoming live sessions, and per patient the flags to decide, the programme,
// progress charts (uPlot), the sessions with their summaries, a live session to start and
// the PDF report; inviting patients, and per patient the intake, the programme editor,
// questionnaire entry and the therapist's grading (their own modules). Everything comes
// from the clinic's API (/clinic/api) with the therapist's own sign-in token.
import { ApiError } from "/static/telerehab.js";
import { clinic, clinicToken, download, saveClinicToken, when } from "/static/clinic.js";
import { showCalls, upcoming, wireBooking } from "/static/call-booking.js";
import { showGoals, wireGoalForm } from "/static/goal-list.js";
import { showGrading } from "/static/grading-form.js";
import { showIntake } from "/static/intake-form.js";
import { showProgramme } from "/static/programme-editor.js";
import { showQuestionnaires } from "/static/questionnaire-form.js";

import { $, el } from "/static/dom.js";
let token = clinicToken("therapist");
let patients = [];
let current = null;
let editorsFor = null;  // the patient whose intake/programme/questionnaire/grading editors are loaded
const charts = {};
window.telerehabCharts = charts;  // for the browser tests

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}


function emptyRow(text, columns = 4) {
  const tr = el("tr");
  tr.append(el("td", text, { colspan: String(columns) }));
  return tr;
}

/** The clinic API for the editors: a 401 signs the therapist out, other errors go back to
 * the editor, which shows the API's message next to its form. */
async function call(path, options = {}) {
  try {
    return await clinic(path, token, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signedOut("Please sign in again.");
    throw err;
  }
}

/** A link to the live page that also names the clinic session, in the fragment beside
 * the join token (a fragment is never sent to a server, so it reaches no log). The
 * therapist's clinic sign-in token is not put in the link: the live page reads it from
 * this tab's sessionStorage (same origin), which a same-tab link keeps. */
function withClinicSession(url, id) {
  return `${url}&clinic_session=${encodeURIComponent(id)}`;
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return signedOut("Please sign in again.");
  notice(err.message || String(err));
}

function signedOut(message = "") {
  token = null;
  clearTimeout(waitingTimer);
  delete document.body.dataset.ready;
  editorsFor = null;
  saveClinicToken("therapist", null);
  $("board").hidden = true;
  $("admin").hidden = true;
  $("setup").hidden = true;
  $("login").hidden = false;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  notice(message);
  $("email").focus();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { email: $("email").value.trim(), password: $("password").value };
  if ($("totp").value.trim()) body.totp = $("totp").value.trim();
  try {
    const reply = await clinic("/auth/login", null, { method: "POST", body });
    if (reply.user.role === "patient") {
      notice("This page is for the clinic's staff: open the sign-in link from your e-mail instead.");
      return;
    }
    token = reply.token;
    saveClinicToken("therapist", token);
    $("password").value = "";
    notice("");
    await start();
  } catch (err) {
    notice(err.message);
  }
});

$("sign-out").addEventListener("click", async () => {
  try { await clinic("/auth/logout", token, { method: "POST" }); } catch { /* signed out anyway */ }
  signedOut("You are signed out.");
});

async function patientRow(p) {
  const [programme, sessions, flags] = await Promise.all([
    clinic(`/patients/${p.id}/programme`, token).catch(() => null),
    clinic(`/patients/${p.id}/sessions`, token).catch(() => []),
    clinic(`/patients/${p.id}/referral-flags`, token).catch(() => []),
  ]);
  return { ...p, programme, sessions, flags };
}

const nextSession = (p) => upcoming(p)[0];

function renderBoard() {
  const tbody = $("patients");
  tbody.replaceChildren();
  if (!patients.length) {
    tbody.append(emptyRow("No patients yet. Invite your first patient below: they get a sign-in link by e-mail."));
  }
  for (const p of patients) {
    const tr = el("tr");
    const th = el("th", null, { scope: "row" });
    const open = el("button", p.name, { type: "button", class: "link-button", "data-patient": String(p.id) });
    open.addEventListener("click", () => showPatient(p.id));
    th.append(open);
    const open_flags = p.flags.filter((f) => f.status === "open");
    const next = nextSession(p);
    const due = el("td", next ? when(next.scheduled_at) : "–");
    if (p.reassessment_due) {
      // In care and not graded for four weeks (or never): time to grade again.
      due.append(el("br"), el("span", p.last_graded_at ? `Re-assessment due (last ${new Date(p.last_graded_at).toLocaleDateString()})` : "Re-assessment due (not graded yet)", { class: "warn" }));
    }
    tr.append(
      th,
      el("td", p.programme ? `v${p.programme.version}: ${p.programme.exercises.map((e) => e.title).join(", ")}` : "none yet"),
      due,
      el("td", open_flags.length ? `${open_flags.length} open: ${open_flags.map((f) => f.specialty).join(", ")}` : "none", open_flags.length ? { class: "warn" } : {}),
    );
    tbody.append(tr);
  }
  const calls = patients.flatMap((p) => upcoming(p).map((s) => ({ p, s })));
  const list = $("upcoming");
  list.replaceChildren();
  for (const { p, s } of calls.sort((a, b) => Date.parse(a.s.scheduled_at) - Date.parse(b.s.scheduled_at))) {
    const li = el("li", `${when(s.scheduled_at)}: ${p.name} `, { "data-call": String(s.id), "data-name": p.name });
    const join = el("button", "Join", { type: "button", class: "secondary" });
    join.addEventListener("click", () => joinSession(s.id));
    li.append(join);
    list.append(li);
  }
  if (!list.children.length) list.append(el("li", "None scheduled."));
  pollWaitingRoom();
}

// ---- the waiting room: who is in a call's room, with a good picture ------------------------

const CAMERA_WORDS = {
  no_face: "face not in view",
  bad_frame: "the picture is too dark or blurred",
  bad_pose: "not facing the camera",
};
const WAITING_ROOM_EVERY_MS = 10_000;
const WAITING_WINDOW_MS = 3600_000;  // calls starting within the hour (or under way)
let waitingTimer = 0;

/** Asks the clinic, for each call starting soon, whether the patient is in its room. */
async function pollWaitingRoom() {
  clearTimeout(waitingTimer);
  if (!token) return;
  const soon = [...document.querySelectorAll("#upcoming li[data-call]")];
  for (const li of soon) {
    const s = patients.flatMap((p) => p.sessions).find((x) => String(x.id) === li.dataset.call);
    if (!s || Date.parse(s.scheduled_at) - Date.now() > WAITING_WINDOW_MS) continue;
    let text = "";
    try {
      const here = await clinic(`/sessions/${s.id}/presence`, token);
      if (here.patient) {
        const cam = here.camera;
        const how = !cam ? "checking the camera…" : cam.ok ? "camera and light OK" : CAMERA_WORDS[cam.status] || cam.status;
        text = `${li.dataset.name} is here: ${how}`;
      }
    } catch { /* the gateway may be restarting: try again next time */ }
    let badge = li.querySelector(".waiting");
    if (!badge) { badge = el("span", "", { class: "waiting", role: "status" }); li.append(" ", badge); }
    badge.textContent = text;
  }
  waitingTimer = setTimeout(pollWaitingRoom, WAITING_ROOM_EVERY_MS);
}

async function joinSession(id) {
  try {
    const link = await clinic(`/sessions/${id}/join`, token);
    location.assign(withClinicSession(link.url, id));
  } catch (err) { fail(err); }
}

function span(xs) {
  const now = Date.now() / 1000, day = 86400;
  if (!xs.length) return [now - 7 * day, now];
  const lo = xs[0], hi = xs[xs.length - 1];
  return hi - lo < 7 * day ? [Math.min(lo - day, hi - 6 * day), Math.max(hi + day, lo + day)] : [lo - day, hi + day];
}

function lineChart(id, series, yRange) {
  const node = $(id);
  if (charts[id]) { charts[id].destroy(); delete charts[id]; }
  if (typeof window.uPlot !== "function") return;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => Date.parse(p.t) / 1000)))].sort((a, b) => a - b);
  const data = [xs, ...series.map((s) => {
    const byT = new Map(s.points.map((p) => [Date.parse(p.t) / 1000, p.value]));
    return xs.map((x) => (byT.has(x) ? byT.get(x) : null));
  })];
  charts[id] = new uPlot({
    width: Math.max(240, node.clientWidth || 300),
    height: 150,
    legend: { show: false },
    cursor: { show: false },
    // A fixed time span: at least a week around the data (uPlot would show years for one point).
    scales: { x: { time: true, auto: false, range: span(xs) }, y: { range: yRange } },
    axes: [{ stroke: "#111", grid: { stroke: "#ddd" } }, { stroke: "#111", grid: { stroke: "#ddd" }, size: 44 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, dash: s.dash, width: 2, spanGaps: true, points: { show: true, size: 6, fill: s.stroke } }))],
  }, data, node);
}

function renderProgramme(p) {
  const prog = $("programme");
  prog.replaceChildren();
  if (!p.programme) prog.append(el("li", "No programme yet."));
  else for (const e of p.programme.exercises) prog.append(el("li", `${e.title}: ${e.reps} reps × ${e.sets} sets, hold ${e.hold_s} s, ${e.times_per_day}×/day, ${e.days_per_week} days/week`));
  if (p.programme) showReading(p);
}

/** The programme's reading and which parts the patient has marked read. */
async function showReading(p) {
  const list = $("programme");
  const stamp = (list.dataset.stamp = String(Number(list.dataset.stamp || 0) + 1));
  try {
    const items = await call(`/patients/${p.id}/education`);
    if (current !== p || list.dataset.stamp !== stamp) return;  // shown again meanwhile
    for (const item of items) {
      const when = item.read_at ? `read ${new Date(item.read_at).toLocaleDateString()}` : "not read yet";
      $("programme").append(el("li", `Reading: ${item.title} (${when})`, { "data-reading": item.key }));
    }
  } catch { /* the programme shows without it */ }
}

async function showPatient(pid) {
  const p = patients.find((x) => x.id === pid);
  if (!p) return;
  current = p;
  $("detail").hidden = false;
  $("detail-title").textContent = `${p.name} (${p.email})`;
  $("live-links").textContent = "";

  const flags = $("flags");
  flags.replaceChildren();
  for (const f of p.flags) {
    const li = el("li", `${f.specialty}: ${f.reason} (${f.status}) `);
    if (f.status === "open") {
      for (const decision of ["accepted", "dismissed"]) {
        const b = el("button", decision === "accepted" ? "Refer" : "Dismiss", { type: "button", class: "secondary" });
        b.addEventListener("click", async () => {
          try {
            await clinic(`/referral-flags/${f.id}/decision`, token, { method: "POST", body: { decision } });
            Object.assign(p, await patientRow(p));
            renderBoard();
            showPatient(pid);
          } catch (err) { fail(err); }
        });
        li.append(b, " ");
      }
    }
    flags.append(li);
  }
  if (!p.flags.length) flags.append(el("li", "No referral suggestions."));

  renderProgramme(p);
  showGoals(p.id, call);
  showCalls(p, { call, token, join: joinSession, changed: () => refreshPatient(p) });

  const tbody = $("sessions");
  tbody.replaceChildren();
  for (const s of [...p.sessions].reverse()) {
    const ex = (s.summary && s.summary.exercises) || [];
    const tr = el("tr");
    tr.append(
      el("td", when(s.ended_at || s.scheduled_at)),
      el("td", s.kind === "home" ? "home practice" : "live"),
      el("td", s.status),
      el("td", [
        ...ex.map((e) => `${e.name.replaceAll("_", " ")} ${e.reps}/${e.attempts}${e.symmetry == null ? "" : `, symmetry ${Math.round(e.symmetry * 100)}%`}`),
        ...(s.summary && s.summary.spasms ? [`twitches at rest ${s.summary.spasms.count} (left ${s.summary.spasms.left}, right ${s.summary.spasms.right})`] : []),
      ].join("; ") || "–"),
      el("td", [s.notes, (s.treatments || []).length ? `Treatment given: ${s.treatments.map((t) => t.kind.replaceAll("_", " ")).join(", ")}.` : ""].filter(Boolean).join(" ") || "–", { class: "notes-text" }),
    );
    tbody.append(tr);
  }
  if (!p.sessions.length) tbody.append(emptyRow("No sessions yet.", 5));
  $("detail").focus();
  // Re-showing the same patient (after a flag decision) keeps unsaved edits in the editors.
  if (editorsFor === pid) return progressCharts(pid);
  editorsFor = pid;
  $("reinvite-result").replaceChildren();
  showIntake(pid, call);
  showProgramme(pid, call, async () => {
    Object.assign(p, await patientRow(p));
    renderBoard();
    renderProgramme(p);
  });
  showQuestionnaires(pid, call);
  showGrading(pid, call, () => progressCharts(pid));
  await progressCharts(pid);
}

/** Reload one patient's sessions, flags and programme, and show them again. */
async function refreshPatient(p) {
  Object.assign(p, await patientRow(p));
  renderBoard();
  if (current === p) await showPatient(p.id);
}

wireBooking({ current: () => current, call, changed: () => current && refreshPatient(current) });
wireGoalForm({ current: () => current, call });

async function progressCharts(pid) {
  try {
    const progress = await clinic(`/patients/${pid}/progress`, token);
    const sym = progress.symmetry || {};
    lineChart("chart-symmetry", [
      { label: "Mouth", stroke: "#0072B2", dash: [], points: sym.mouth || [] },
      { label: "Eye", stroke: "#D55E00", dash: [8, 4], points: sym.eye || [] },
      { label: "Brow", stroke: "#009E73", dash: [2, 3], points: sym.brow || [] },
    ], [0, 1]);
    lineChart("chart-sunnybrook", [
      { label: "Therapist", stroke: "#0072B2", dash: [], points: progress.sunnybrook_therapist || [] },
      { label: "Estimate", stroke: "#D55E00", dash: [8, 4], points: progress.sunnybrook_estimate || [] },
    ], [0, 100]);
    lineChart("chart-spasms", [
      { label: "Twitches", stroke: "#0072B2", dash: [], points: progress.spasms || [] },
    ], [0, Math.max(5, ...(progress.spasms || []).map((p) => p.value || 0))]);
    lineChart("chart-adherence", [
      { label: "Adherence", stroke: "#0072B2", dash: [], points: progress.adherence || [] },
    ], [0, 1]);
  } catch (err) { fail(err); }
}

$("start-live").addEventListener("click", async () => {
  if (!current) return;
  try {
    const s = await clinic(`/patients/${current.id}/sessions`, token, { method: "POST", body: { kind: "live" } });
    const out = $("live-links");
    out.replaceChildren(
      "Send the patient this link: ",
      el("a", "patient's link", { href: s.links.patient_url, id: "patient-link" }),
      " ",
      copyButton(s.links.patient_url, "Copy the patient's link"),
      ". ",
      el("a", "Open my session page", { href: withClinicSession(s.links.therapist_url, s.id), id: "therapist-link" }),
    );
    Object.assign(current, await patientRow(current));
    renderBoard();
  } catch (err) { fail(err); }
});

$("report").addEventListener("click", async (ev) => {
  ev.preventDefault();
  if (!current) return;
  try {
    await download(`/patients/${current.id}/report.pdf`, token, `telerehab-report-${current.id}.pdf`);
  } catch (err) { fail(err); }
});

// ---- inviting patients ------------------------------------------------------------------

/** What became of an invitation: e-mailed, or a link for the therapist to pass on. */
function showInvite(out, invite, name) {
  out.replaceChildren();
  if (invite.sent) {
    out.append(el("p", `E-mail sent: ${name} has a sign-in link in their inbox.`));
    return;
  }
  const why = invite.mail_error ? `The e-mail could not be sent (${invite.mail_error}).` : "E-mail is not set up on this server.";
  const id = `${out.id}-link`;
  out.append(
    el("p", `${why} Pass this sign-in link to ${name} yourself; it works once:`),
    el("label", "Sign-in link", { for: id, class: "visually-hidden" }),
  );
  const input = el("input", null, { id, readonly: "", class: "link-field" });
  input.value = invite.link;
  const row = el("div", null, { class: "practice-row" });
  row.append(input, copyButton(invite.link, "Copy link", input));
  out.append(row);
}

/** A button that copies ``text`` (and selects it in ``field``, for Ctrl+C where the
 * clipboard is not allowed: plain http on another machine). */
function copyButton(text, label, field = null) {
  const copy = el("button", label, { type: "button", class: "secondary" });
  copy.addEventListener("click", async () => {
    if (field) field.select();
    try { await navigator.clipboard.writeText(text); copy.textContent = "Copied"; } catch { copy.textContent = field ? "Selected: press Ctrl+C" : "Copy failed: right-click the link"; }
  });
  return copy;
}

function fillTimezones() {
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const all = [...new Set(["UTC", here, ...zones])].sort();
  $("invite-timezone").replaceChildren(...all.map((z) => new Option(z, z, false, z === here)));
}
fillTimezones();

$("invite-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("invite-error").textContent = "";
  const name = $("invite-name").value.trim();
  const body = { name, email: $("invite-email").value.trim(), timezone: $("invite-timezone").value };
  try {
    const made = await call("/patients", { method: "POST", body });
    showInvite($("invite-result"), made.invite, made.patient.name);
    $("invite-name").value = "";
    $("invite-email").value = "";
    patients.push(await patientRow(made.patient));
    renderBoard();
  } catch (err) {
    $("invite-result").replaceChildren();
    $("invite-error").textContent = `Not invited: ${err.message}`;
  }
});

$("reinvite").addEventListener("click", async () => {
  if (!current) return;
  try {
    showInvite($("reinvite-result"), await call(`/patients/${current.id}/invite`, { method: "POST" }), current.name);
  } catch (err) { fail(err); }
});

// -- first run and the admin's view --------------------------------------------------

/** The setup code from the link `telerehab up` printed (#setup=…), taken out of the
 * address bar at once so it is not bookmarked or shared by accident. */
function setupCodeFromLink() {
  const code = new URLSearchParams(location.hash.slice(1)).get("setup");
  if (code) history.replaceState(null, "", location.pathname + location.search);
  return code;
}

async function firstRun() {
  const code = setupCodeFromLink();
  let needed = false;
  try { needed = (await clinic("/setup", null)).needed; } catch { /* the sign-in form then */ }
  if (!needed) return false;
  $("login").hidden = true;
  $("setup").hidden = false;
  if (code) $("setup-code").value = code;
  $("setup-name").focus();
  return true;
}

$("setup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("setup-error").textContent = "";
  const body = {
    name: $("setup-name").value.trim(),
    email: $("setup-email").value.trim(),
    password: $("setup-password").value,
    code: $("setup-code").value.trim(),
  };
  try {
    const reply = await clinic("/setup", null, { method: "POST", body });
    token = reply.token;
    saveClinicToken("therapist", token);
    $("setup").hidden = true;
    await start();
    notice("Your administrator account is ready. Next: add the clinic's therapists.");
  } catch (err) {
    if (err instanceof ApiError && err.code === "already_set_up") {
      $("setup").hidden = true;
      signedOut(err.message);
      return;
    }
    $("setup-error").textContent = err.message;
  }
});

function renderTherapists(list) {
  const tbody = $("therapists");
  tbody.replaceChildren();
  if (!list.length) tbody.append(emptyRow("No therapists yet: add the first one below."));
  for (const t of list) {
    const tr = el("tr", null, { "data-therapist": String(t.id) });
    const action = el("button", t.active ? "Switch off" : "Switch on", {
      type: "button",
      class: "secondary",
      "aria-label": `${t.active ? "Switch off" : "Switch on"} ${t.name}'s account`,
    });
    action.addEventListener("click", () => switchTherapist(t, !t.active));
    const cell = el("td");
    cell.append(action);
    tr.append(el("th", t.name, { scope: "row" }), el("td", t.email), el("td", t.active ? "On" : "Off: cannot sign in"), cell);
    tbody.append(tr);
  }
}

async function loadTherapists() {
  renderTherapists(await call("/therapists"));
}

async function switchTherapist(t, on) {
  if (!on && !confirm(`Switch off ${t.name}'s account? Their sign-ins end at once; their patients' records stay.`)) return;
  try {
    await call(`/therapists/${t.id}/${on ? "reactivate" : "deactivate"}`, { method: "POST" });
    $("therapists-status").textContent = `${t.name}'s account is ${on ? "on" : "off"}.`;
    await loadTherapists();
  } catch (err) { fail(err); }
}

$("therapist-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("therapist-error").textContent = "";
  const body = {
    name: $("therapist-name").value.trim(),
    email: $("therapist-email").value.trim(),
    password: $("therapist-password").value,
  };
  try {
    const made = await call("/therapists", { method: "POST", body });
    $("therapist-form").reset();
    $("therapists-status").textContent = `${made.name} can now sign in on this page with ${made.email}.`;
    await loadTherapists();
  } catch (err) {
    $("therapist-error").textContent = `Not added: ${err.message}`;
  }
});

async function start() {
  $("login").hidden = true;
  try {
    const me = await clinic("/me", token);
    if (me.role === "patient") return signedOut("This page is for the clinic's staff.");
    $("who").textContent = `Signed in as ${me.name}${me.role === "admin" ? " (administrator)" : ""}`;
    $("sign-out").hidden = false;
    if (me.role === "admin") {
      $("admin").hidden = false;
      await loadTherapists();
      document.body.dataset.ready = "true";
      return;
    }
    $("board").hidden = false;
    const list = await clinic("/patients", token);
    patients = await Promise.all(list.map(patientRow));
    renderBoard();
    document.body.dataset.ready = "true";
  } catch (err) {
    fail(err);
  }
}

if (token) start();
else {
  signedOut();
  firstRun();
}
