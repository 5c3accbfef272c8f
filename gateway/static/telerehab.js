// telerehab.js: the browser side of one telerehab session, shared by patient.html and therapist.html.
//
// One RTCPeerConnection to the gateway carries our camera/microphone up, the other
// participant's media down, and an "events" data channel with the gateway's JSON messages.
// The gateway (aiortc) does not do trickle ICE, so every offer is sent only once ICE
// gathering has finished. On failure the whole connection is rebuilt with a new offer.

const ICE_GATHER_TIMEOUT_MS = 3000;  // send whatever candidates we have after this long
const DISCONNECT_GRACE_MS = 5000;    // "disconnected" often heals by itself; wait this long
const SETUP_TIMEOUT_MS = 20000;      // an answer that never reaches "connected" counts as failed
const STABLE_MS = 10000;             // connected this long: the back-off starts again at 1 s
const BACKOFF_MAX_S = 15;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;  // 0 when the server could not be reached at all
    this.code = code;
  }
  get expired() { return this.status === 401 || this.status === 403; }
  get retryable() { return this.status === 0 || this.status >= 500 || this.status === 408 || this.status === 429; }
}

class CameraError extends Error {}

/** What the patient is told when the analyser sends no cue of its own, by feedback status. */
export const DEFAULT_CUES = {
  calibrating: "Relax your face and look at the camera.",
  tracking: "Ready. Now do your exercise.",
  no_face: "We cannot see your face. Please sit in front of the camera.",
  bad_pose: "Please look straight at the camera.",
  bad_frame: "The picture is not clear. Please turn on more light.",
};

/** While tracking without a cue of the analyzer's own: what the exercise phase asks for. */
const PHASE_CUES = {
  rest: "Relax. Start slowly when you are ready.",
  move: "Move slowly.",
  hold: "Hold it.",
  release: "Let go slowly.",
  set_rest: "Rest before the next set.",
  done: "Well done: exercise finished",
};

/** The words the patient's page shows for a feedback message ("" for an unknown status). */
export function cueText(fb) {
  // The analyzer sends its cues most important first: one at a time is what a patient
  // mid-movement can read ("Slower Hold" run together read as one odd sentence).
  if (fb && Array.isArray(fb.cues) && fb.cues.length) return fb.cues[0];
  if (fb && fb.status === "tracking") {
    if (fb.assessment && fb.assessment.instructions) return fb.assessment.instructions;
    if (fb.exercise && PHASE_CUES[fb.exercise.phase]) return PHASE_CUES[fb.exercise.phase];
  }
  return (fb && DEFAULT_CUES[fb.status]) || "";
}

/** The token from the join link's fragment (#token=...), or null. */
export function readToken(hash = location.hash) {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  return token && token.trim() ? token.trim() : null;
}

/** Calls the gateway's JSON API; throws ApiError carrying the server's human message. */
export async function api(path, token, { method = "GET", body } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      cache: "no-store",
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, "network", "We could not reach the server. Please check your internet connection.");
  }
  let data = null;
  try { data = await res.json(); } catch { /* empty or non-JSON body */ }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || `The server answered with error ${res.status}.`);
  }
  return data;
}

function cameraReason(err) {
  switch (err && err.name) {
    case "NotAllowedError": case "SecurityError": return "permission to use the camera was refused";
    case "NotFoundError": case "OverconstrainedError": return "no camera was found on this device";
    case "NotReadableError": case "AbortError": return "the camera is busy or not working (another app may be using it)";
    default: return (err && err.message) || "unknown problem";
  }
}

/** Opens camera + microphone. A missing microphone is tolerated (face analysis needs only video). */
async function openCamera() {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) {
    // getUserMedia only exists in secure contexts (https or localhost).
    throw new CameraError("the browser blocks the camera because this page was not opened securely (https)");
  }
  const video = { width: { ideal: 640 }, height: { ideal: 480 } };
  try {
    return await md.getUserMedia({ video, audio: true });
  } catch (err) {
    if (err.name === "NotAllowedError" || err.name === "SecurityError") throw new CameraError(cameraReason(err));
    try { return await md.getUserMedia({ video }); } catch (err2) { throw new CameraError(cameraReason(err2)); }
  }
}

/** Resolves when ICE gathering is complete, or after timeoutMs, whichever comes first. */
function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * Joins the session named by the token in location.hash.
 *   role:     "patient" | "therapist" (the page's role; a link for the other role is redirected)
 *   video:    { self: <video>, remote: <video> }
 *   onEvent:  (msg) for every JSON message from the gateway on the "events" channel
 *   onState:  (state, message) with state one of connecting | connected | reconnecting |
 *             ended | expired | error (the last three are final; the camera is then stopped)
 *   onNotice: ({kind, message}) for non-fatal local problems: "camera", "microphone", "sound_blocked"
 * Returns a controller: { endSession(), enableSound(), stop(), session }.
 */
export function connect({ role, video = {}, onEvent = () => {}, onState = () => {}, onNotice = () => {} }) {
  const token = readToken();
  // Kept up to date for automated tests and for debugging from the console.
  const exposed = (window.telerehab = {
    pc: null, lastFeedback: null, feedbackCount: 0, state: "connecting", session: null, role,
    marks: [],  // pages push {what, at: performance.now(), ...} when they render something a benchmark times
  });
  const newLinkText = role === "patient" ? "Please ask your therapist for a new one." : "Please create a new session link.";
  let session = null;
  let localStream = null;
  let mediaTried = false;
  let pc = null;
  let gen = 0;            // bumped on every teardown: callbacks of older connections see a stale gen and do nothing
  let attempt = 0;        // consecutive failed attempts, for the back-off
  let connectedAt = 0;
  let retryTimer = 0, graceTimer = 0, setupTimer = 0;
  let finished = false;

  function setState(state, message = "") { exposed.state = state; onState(state, message); }

  function teardown() {
    gen++;
    clearTimeout(graceTimer);
    clearTimeout(setupTimer);
    if (pc) pc.close();  // also closes the data channel; its onclose sees a stale gen
    pc = exposed.pc = null;
  }

  /** Final states: stop everything, including the camera, and never reconnect. */
  function finish(state, message) {
    if (finished) return;
    finished = true;
    clearTimeout(retryTimer);
    teardown();
    if (localStream) localStream.getTracks().forEach((t) => t.stop());
    if (video.self) video.self.srcObject = null;
    setState(state, message);
  }

  function scheduleReconnect(reason) {
    if (finished) return;
    teardown();
    if (connectedAt && Date.now() - connectedAt > STABLE_MS) attempt = 0;
    connectedAt = 0;
    const delay = Math.min(BACKOFF_MAX_S, 2 ** attempt);
    attempt++;
    setState("reconnecting", `${reason || ""} Trying again in ${delay} s.`.trim());
    clearTimeout(retryTimer);
    retryTimer = setTimeout(start, delay * 1000);
  }

  function handleError(err) {
    if (err instanceof CameraError) {
      return finish("error", `We could not use your camera: ${err.message}. Please allow camera access and reload.`);
    }
    if (err instanceof ApiError) {
      if (err.expired) return finish("expired", `This link has expired. ${newLinkText}`);
      if (err.status === 410 || err.code === "session_ended") return finish("ended", "The session has ended.");
      if (!err.retryable) return finish("error", err.message);
    }
    scheduleReconnect(err && err.message);
  }

  async function ensureLocalMedia() {
    if (mediaTried) return;
    mediaTried = true;
    try {
      localStream = await openCamera();
    } catch (err) {
      if (role === "patient" || !(err instanceof CameraError)) throw err;
      // The therapist may watch without a camera; the patient's media must still arrive.
      onNotice({ kind: "camera", message: `Your camera is off: ${err.message}.` });
      return;
    }
    if (!localStream.getAudioTracks().length) {
      onNotice({ kind: "microphone", message: "No microphone was found, so you cannot be heard." });
    }
    for (const track of localStream.getTracks()) {
      const device = track.kind === "video" ? "camera" : "microphone";
      track.addEventListener("ended", () => {
        if (!finished) onNotice({ kind: device, message: `Your ${device} stopped working. Please reload the page.` });
      });
    }
    if (video.self) {
      video.self.muted = true;  // never play our own microphone back
      video.self.srcObject = localStream;
      video.self.play().catch(() => {});
    }
  }

  function playRemote() {
    video.remote.play().catch((err) => {
      if (err.name !== "NotAllowedError") return;  // AbortError: a newer srcObject replaced this one
      // Autoplay with sound was refused (no user gesture yet): play muted, let the user turn sound on.
      video.remote.muted = true;
      video.remote.play().catch(() => {});
      onNotice({ kind: "sound_blocked", message: "Sound is off." });
    });
  }

  function wire(myPc, channel, myGen) {
    const stale = () => myGen !== gen || finished;
    const remoteTracks = [];
    myPc.ontrack = (ev) => {
      if (stale() || !video.remote) return;
      // Collect all tracks into one stream ourselves: the gateway may label audio and video
      // with different stream ids (or none), and one <video> must play both.
      remoteTracks.push(ev.track);
      video.remote.srcObject = new MediaStream(remoteTracks);
      playRemote();
    };
    myPc.onconnectionstatechange = () => {
      if (stale()) return;
      const state = myPc.connectionState;
      clearTimeout(graceTimer);
      if (state === "connected") {
        clearTimeout(setupTimer);
        connectedAt = Date.now();
        setState("connected");
      } else if (state === "disconnected") {
        setState("reconnecting", "The connection is unstable.");
        graceTimer = setTimeout(() => { if (!stale()) scheduleReconnect("The connection was lost."); }, DISCONNECT_GRACE_MS);
      } else if (state === "failed") {
        scheduleReconnect("The connection was lost.");
      }
    };
    channel.onmessage = (ev) => {
      if (stale()) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg !== "object") return;
      if (msg.type === "feedback") { exposed.lastFeedback = msg; exposed.feedbackCount++; }
      onEvent(msg);
      if (msg.type === "session_ended") finish("ended", "The session has ended.");
    };
    channel.onclose = () => { if (!stale()) scheduleReconnect("The connection to the server closed."); };
  }

  async function start() {
    teardown();
    const myGen = gen;
    const stale = () => myGen !== gen || finished;
    setState(attempt ? "reconnecting" : "connecting");
    try {
      session = exposed.session = await api("/api/session", token);
      if (stale()) return;
      if (session.role !== role) {
        if (session.role !== "patient" && session.role !== "therapist") throw new ApiError(403, "wrong_role", "This link cannot be used on this page.");
        location.replace(`/${session.role}${location.hash}`);  // same token, the right page
        return;
      }
      await ensureLocalMedia();
      if (stale()) return;

      const myPc = (pc = exposed.pc = new RTCPeerConnection({ iceServers: session.ice_servers || [] }));
      // The data channel must exist before the offer so that the SDP includes it.
      wire(myPc, myPc.createDataChannel("events"), myGen);
      const sending = new Set();
      if (localStream) {
        for (const track of localStream.getTracks()) {
          myPc.addTrack(track, localStream);
          sending.add(track.kind);
        }
      }
      // Without a local track of a kind, still ask to receive the other side's one.
      for (const kind of ["video", "audio"]) {
        if (!sending.has(kind)) myPc.addTransceiver(kind, { direction: "recvonly" });
      }
      await myPc.setLocalDescription(await myPc.createOffer());
      await waitForIceGathering(myPc, ICE_GATHER_TIMEOUT_MS);
      if (stale()) return;
      const { sdp, type } = myPc.localDescription;
      const answer = await api("/api/offer", token, { method: "POST", body: { sdp, type } });
      if (stale()) return;
      await myPc.setRemoteDescription(answer);
      setupTimer = setTimeout(() => {
        if (!stale() && myPc.connectionState !== "connected") scheduleReconnect("The connection is taking too long.");
      }, SETUP_TIMEOUT_MS);
    } catch (err) {
      if (!stale()) handleError(err);
    }
  }

  let catalogue = null;
  const controller = {
    get session() { return session; },
    /** Therapist only: ends the session for everyone; resolves to the gateway's answer
     *  (with the session's "summary" when the analyzer left one). Throws ApiError on failure. */
    async endSession() {
      if (!session) throw new ApiError(0, "no_session", "Not connected to a session yet.");
      const reply = await api(`/api/sessions/${encodeURIComponent(session.sid)}/end`, token, { method: "POST" });
      finish("ended", "The session has ended.");
      return reply || {};
    },
    /** Sends a command to the session's analyzer: {command, exercise?, reps?, sets?, hold_s?}. */
    async command(body) {
      if (!session) throw new ApiError(0, "no_session", "Not connected to a session yet.");
      return api(`/api/sessions/${encodeURIComponent(session.sid)}/commands`, token, { method: "POST", body });
    },
    /** The analyzer's summary of this session so far ({summary: {...} | null}). */
    async summary() {
      if (!session) throw new ApiError(0, "no_session", "Not connected to a session yet.");
      return api(`/api/sessions/${encodeURIComponent(session.sid)}/summary`, token);
    },
    /** The exercise catalogue as a Map name -> {title, instructions, reps, sets, hold_s, ...}. */
    async exercises() {
      if (!catalogue) {
        catalogue = api("/api/exercises", token).then(
          (data) => new Map(data.exercises.map((e) => [e.name, e])),
          (err) => { catalogue = null; throw err; },
        );
      }
      return catalogue;
    },
    /** Unmutes the remote video after autoplay blocked sound; call from a click handler. */
    enableSound() {
      if (!video.remote) return Promise.resolve();
      video.remote.muted = false;
      return video.remote.play();
    },
    stop() { finish("stopped", ""); },
  };

  // Close promptly when the page goes away so the gateway sees us leave; a page restored
  // from the back/forward cache has a dead connection, so start over.
  addEventListener("pagehide", () => controller.stop());
  addEventListener("pageshow", (ev) => { if (ev.persisted) location.reload(); });

  if (!token) {
    finish("expired", `This link is not complete. ${newLinkText}`);
  } else if (typeof RTCPeerConnection === "undefined") {
    finish("error", "This browser cannot make video calls. Please use an up-to-date Chrome, Edge, Firefox or Safari.");
  } else {
    start();
  }
  return controller;
}

/** Records that the page rendered something (for tests and the cue-latency benchmark). */
export function mark(what, data = {}) {
  const marks = window.telerehab && window.telerehab.marks;
  if (!marks) return;
  marks.push({ what, at: performance.now(), ...data });
  if (marks.length > 500) marks.shift();
}

/** Human names of the exercise phases (Feedback.exercise.phase). */
// The exercise card's phase, in the analyzer's own cue words (analyzer/cues.py), so the
// big cue and the card never say two different things at once.
export const PHASES = {
  rest: "Relax",
  move: "Move slowly",
  hold: "Hold",
  release: "Let go slowly",
  set_rest: "Rest before the next set",
  done: "Well done: exercise finished",
};

/** Seconds left in the hold, or null outside a hold. */
export function holdLeft(ex) {
  if (!ex || ex.phase !== "hold") return null;
  return Math.max(0, (ex.hold_target_s || 0) - (ex.hold_s || 0));
}
