// coach serve: the list of sessions, and the player. The player keeps no clock of its own: what
// it shows is a function of the audio's currentTime and the session's timeline (`view`), so it is
// right again after any seek, pause, or the phone waking up.
"use strict";

// The pages' own words, in the session's language (its phrasebook's); English for any other.
const WORDS = {
  en: {
    phases: {
      lead_in: "Get ready", work: "Work", rest: "Rest", switch: "Switch sides", round_rest: "Round rest",
      outro: "Finish", finished: "Finished",
    },
    nouns: { set: ["set", "sets"], block: ["block", "blocks"], exercise: ["exercise", "exercises"] },
    sessions: "Sessions", hint: "Bookmark this page: its address carries the key that lets you in.",
    done: "Well done", complete: "Session complete", finish: "finish",
    next: (what) => `Next: ${what}`, setsDone: (sets) => `${sets} done`, round: (n, total) => `round ${n} of ${total}`,
    firstUp: "first up", upNext: "up next", switchTo: (side) => `switch to the ${side}`, switchSides: "switch sides",
    work: (seconds, sets) => `${seconds} s of work \u00b7 ${sets} to go`, seconds: "seconds", session: "session",
    exercise: "exercise", play: "Play", pause: "Pause", previous: "Previous exercise", nextTrack: "Next exercise",
    position: "Position in the session", download: "Download MP3", back: "\u2039 Sessions", backLabel: "All sessions",
  },
  es: {
    phases: {
      lead_in: "Prep\u00e1rate", work: "Trabajo", rest: "Descanso", switch: "Cambio de lado", round_rest: "Descanso entre rondas",
      outro: "Final", finished: "Terminado",
    },
    nouns: { set: ["serie", "series"], block: ["bloque", "bloques"], exercise: ["ejercicio", "ejercicios"] },
    sessions: "Sesiones", hint: "Guarda esta p\u00e1gina en favoritos: su direcci\u00f3n lleva la clave que te deja entrar.",
    done: "\u00a1Bien hecho!", complete: "Sesi\u00f3n completada", finish: "final",
    next: (what) => `Despu\u00e9s: ${what}`, setsDone: (sets) => `${sets} hechas`, round: (n, total) => `ronda ${n} de ${total}`,
    firstUp: "primero", upNext: "a continuaci\u00f3n", switchTo: (side) => `cambia al ${side}`, switchSides: "cambia de lado",
    work: (seconds, sets) => `${seconds} s de trabajo \u00b7 quedan ${sets}`, seconds: "segundos", session: "sesi\u00f3n",
    exercise: "ejercicio", play: "Reproducir", pause: "Pausa", previous: "Ejercicio anterior", nextTrack: "Ejercicio siguiente",
    position: "Posici\u00f3n en la sesi\u00f3n", download: "Descargar MP3", back: "\u2039 Sesiones", backLabel: "Todas las sesiones",
  },
};

function wordsFor(language) {
  return WORDS[String(language || "en").toLowerCase().split(/[-_]/)[0]] || WORDS.en;
}
const RESTART_MS = 3000; // "previous" past this far into a chapter goes back to its start
const NEXT_SLACK_MS = 500; // "next" pressed just after a chapter starts still moves on
const CUE_LINGER_MS = 4000; // a cue's words stay on screen, dimmed, this long after it is said
const SAVE_EVERY_MS = 5000; // how often the position is remembered while playing

function clock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function plural(n, noun, words = WORDS.en) {
  const forms = words.nouns[noun] || [noun, `${noun}s`];
  return `${n} ${forms[n === 1 ? 0 : 1]}`;
}

function element(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== undefined) node.textContent = content;
  return node;
}

function show(id, value) {
  const node = document.getElementById(id);
  if (node.textContent !== value) node.textContent = value;
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function blockLine(block, words) {
  const rounds = block.rounds > 1 ? ` \u00d7${block.rounds}` : "";
  return `${block.name}${rounds} \u00b7 ${plural(block.exercises, "exercise", words)}`;
}

async function showList() {
  const list = document.getElementById("sessions");
  const sessions = await getJSON("/api/sessions.json");
  const languages = new Set(sessions.map((s) => wordsFor(s.language)));
  if (languages.size === 1) {
    const words = [...languages][0];
    document.documentElement.lang = sessions[0].language || "en";
    show("heading", words.sessions);
    show("hint", words.hint);
  }
  for (const s of sessions) {
    const words = wordsFor(s.language);
    const card = element("a", "card");
    card.href = s.player;
    if (s.cover) {
      const cover = element("img", "cover");
      cover.src = s.cover;
      cover.alt = "";
      card.append(cover);
    }
    const body = element("div", "body");
    const blocks = s.blocks || [];
    body.append(element("h2", "", s.title), element("p", "meta", `${clock(s.duration_ms)} \u00b7 ${plural(blocks.length, "block", words)}`));
    const lines = element("ul", "blocks");
    for (const block of blocks) lines.append(element("li", "", blockLine(block, words)));
    body.append(lines);
    if (s.description) body.append(element("p", "description", s.description));
    card.append(body);
    const item = element("li", "session");
    item.append(card);
    list.append(item);
  }
}

// ---- the timeline: pure functions of (timeline, position) ----

function lastAtOrBefore(items, t) {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].start_ms <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

function chaptersOf(timeline) {
  if (Array.isArray(timeline.chapters) && timeline.chapters.length) return timeline.chapters;
  return timeline.segments.filter((s) => s.kind === "work").map((s) => ({ start_ms: s.start_ms, end_ms: s.end_ms, title: s.exercise || "" }));
}

function roundsOf(segments) {
  const rounds = {};
  for (const s of segments) {
    if (s.block && s.round) rounds[s.block] = Math.max(rounds[s.block] || 1, s.round);
  }
  return rounds;
}

function sideText(timeline, side) {
  if (!side) return "";
  return (timeline.sides && timeline.sides[side]) || `${side} side`;
}

function nextWork(segments, i) {
  for (let j = i + 1; j < segments.length; j++) if (segments[j].kind === "work") return segments[j];
  return null;
}

function workText(timeline, seg, words) {
  const side = seg.side ? ` (${sideText(timeline, seg.side)})` : "";
  return `${seg.exercise || words.exercise}${side} \u00b7 ${Math.round((seg.end_ms - seg.start_ms) / 1000)} s`;
}

function cueAt(cues, t) {
  const i = lastAtOrBefore(cues, t);
  if (i < 0) return { text: "", speaking: false };
  const cue = cues[i];
  if (t < cue.end_ms) return { text: cue.text, speaking: true };
  return t - cue.end_ms < CUE_LINGER_MS ? { text: cue.text, speaking: false } : { text: "", speaking: false };
}

function view(timeline, t, ended) {
  const words = wordsFor(timeline.language);
  const segments = timeline.segments;
  const works = segments.filter((s) => s.kind === "work").length;
  if (ended || t >= timeline.duration_ms || !segments.length) {
    return {
      phase: "finished", label: words.phases.finished, title: words.done, side: "", seconds: clock(timeline.duration_ms),
      unit: words.session, fraction: 1, next: words.setsDone(plural(works, "set", words)), where: timeline.title || "",
      cue: cueAt(timeline.cues || [], t),
    };
  }
  const i = Math.max(0, lastAtOrBefore(segments, t));
  const seg = segments[i];
  const length = Math.max(1, seg.end_ms - seg.start_ms);
  const left = Math.max(0, seg.end_ms - t);
  const upcoming = nextWork(segments, i);
  const rounds = roundsOf(segments);
  // Resting, you get ready for what comes next: its block and round, its name.
  const preparing = seg.kind !== "work" && seg.kind !== "outro" && upcoming !== null;
  const here = preparing ? upcoming : seg;
  const total = here.block ? rounds[here.block] || 1 : 1;
  const out = {
    phase: seg.kind, label: words.phases[seg.kind] || String(seg.kind).replace(/_/g, " "), title: "", side: "",
    seconds: String(Math.ceil(left / 1000)), unit: words.seconds, fraction: left / length, next: "",
    where: here.block ? `${here.block}${total > 1 && here.round ? ` \u00b7 ${words.round(here.round, total)}` : ""}` : timeline.title || "",
    cue: cueAt(timeline.cues || [], t),
  };
  if (seg.kind === "work") {
    out.title = seg.exercise || "";
    out.side = sideText(timeline, seg.side);
    out.next = words.next(upcoming ? workText(timeline, upcoming, words) : words.finish);
  } else if (seg.kind === "outro" || !preparing) {
    out.title = words.done;
    out.next = words.complete;
  } else {
    const setsLeft = segments.filter((s) => s.kind === "work" && s.start_ms >= seg.end_ms).length;
    out.title = upcoming.exercise || "";
    const lead = seg.kind === "lead_in" ? words.firstUp : words.upNext;
    if (seg.kind === "switch") out.side = upcoming.side ? words.switchTo(sideText(timeline, upcoming.side)) : words.switchSides;
    else out.side = upcoming.side ? `${lead} \u00b7 ${sideText(timeline, upcoming.side)}` : lead;
    out.next = words.work(Math.round((upcoming.end_ms - upcoming.start_ms) / 1000), plural(setsLeft, "set", words));
  }
  return out;
}

// ---- the player page ----

async function showPlayer() {
  const slug = decodeURIComponent(location.pathname.split("/")[2] || "");
  const session = (await getJSON("/api/sessions.json")).find((s) => s.slug === slug);
  if (!session) throw new Error(`no session ${slug}`);
  const timeline = await getJSON(session.timeline);
  const words = wordsFor(timeline.language);
  const chapters = chaptersOf(timeline);
  const audio = document.getElementById("audio");
  const seek = document.getElementById("seek");
  const media = "mediaSession" in navigator ? navigator.mediaSession : null;
  let frame = 0;
  let shownChapter = -1;
  let lock = null;

  document.title = `${session.title} \u2014 coach`;
  document.documentElement.lang = timeline.language || "en";
  show("title", session.title);
  show("back", words.back);
  document.getElementById("back").setAttribute("aria-label", words.backLabel);
  document.getElementById("previous").setAttribute("aria-label", words.previous);
  document.getElementById("nexttrack").setAttribute("aria-label", words.nextTrack);
  seek.setAttribute("aria-label", words.position);
  show("download", words.download);
  show("total", clock(timeline.duration_ms));
  seek.max = String(Math.round(timeline.duration_ms / 1000));
  const download = document.getElementById("download");
  download.href = session.download;
  download.setAttribute("download", `${slug}.mp3`);
  audio.src = session.audio;

  const now = () => audio.currentTime * 1000;
  const chapterAt = (t) => Math.max(0, lastAtOrBefore(chapters, t));
  const atEnd = () => audio.ended || (Number.isFinite(audio.duration) && audio.duration > 0 && audio.currentTime >= audio.duration);
  // Where you were, so that leaving the page (or the browser reloading it) does not start the session over.
  const remembered = `coach:position:${slug}:${timeline.duration_ms}`;
  let savedAt = 0;

  function remember(force) {
    if (!force && Date.now() - savedAt < SAVE_EVERY_MS) return;
    savedAt = Date.now();
    try {
      if (atEnd() || audio.currentTime < 1) localStorage.removeItem(remembered);
      else localStorage.setItem(remembered, String(audio.currentTime));
    } catch (error) {
      // storage refused (private browsing): start from the beginning next time
    }
  }

  function resume() {
    let saved = NaN;
    try {
      saved = Number(localStorage.getItem(remembered));
    } catch (error) {
      return;
    }
    if (saved > 0 && saved * 1000 < timeline.duration_ms) audio.currentTime = saved;
  }

  function render() {
    const t = now();
    const v = view(timeline, t, atEnd());
    document.body.dataset.phase = v.phase;
    document.body.classList.toggle("playing", !audio.paused);
    show("phase", v.label);
    show("exercise", v.title);
    show("side", v.side);
    show("seconds", v.seconds);
    show("unit", v.unit);
    show("next", v.next);
    show("where", v.where);
    show("cue", v.cue.text);
    document.getElementById("cue").classList.toggle("speaking", v.cue.speaking);
    document.getElementById("arc").style.strokeDashoffset = String(100 * (1 - Math.min(1, Math.max(0, v.fraction))));
    show("elapsed", clock(Math.min(t, timeline.duration_ms)));
    const c = chapterAt(t);
    show("chapter", chapters.length ? `${c + 1} / ${chapters.length}` : "");
    if (document.activeElement !== seek) seek.value = String(Math.round(t / 1000));
    document.getElementById("play").setAttribute("aria-label", audio.paused ? words.play : words.pause);
    if (c !== shownChapter) {
      shownChapter = c;
      describe(c);
    }
  }

  function tick() {
    frame = 0;
    render();
    if (!audio.paused && document.visibilityState === "visible") frame = requestAnimationFrame(tick);
  }

  function animate() {
    if (!frame) frame = requestAnimationFrame(tick);
  }

  function describe(c) {
    if (!media || typeof MediaMetadata === "undefined") return;
    const chapter = chapters[c];
    media.metadata = new MediaMetadata({
      title: chapter && chapter.title ? chapter.title : session.title, artist: session.title, album: session.artist,
      artwork: session.cover ? [{ src: new URL(session.cover, location.href).href, type: session.cover_type }] : [],
    });
    position();
  }

  function position() {
    if (!media) return;
    media.playbackState = audio.paused ? "paused" : "playing";
    const duration = audio.duration;
    if (!media.setPositionState || !Number.isFinite(duration) || duration <= 0) return;
    try {
      media.setPositionState({ duration, playbackRate: audio.playbackRate || 1, position: Math.min(audio.currentTime, duration) });
    } catch (error) {
      // a position the browser will not take (mid-seek): the next event sets it again
    }
  }

  function goTo(ms) {
    audio.currentTime = ms / 1000;
    render();
    position();
  }

  function next() {
    const t = now();
    const chapter = chapters.find((c) => c.start_ms > t + NEXT_SLACK_MS);
    if (chapter) goTo(chapter.start_ms);
  }

  function previous() {
    const t = now();
    const c = chapterAt(t);
    const start = chapters.length ? chapters[c].start_ms : 0;
    goTo(t - start > RESTART_MS || c === 0 ? start : chapters[c - 1].start_ms);
  }

  function play() {
    audio.play().catch(() => {}); // refused without a tap: the play button is there
  }

  async function keepAwake() {
    if (lock || audio.paused || document.visibilityState !== "visible" || !("wakeLock" in navigator)) return;
    try {
      lock = await navigator.wakeLock.request("screen");
      lock.addEventListener("release", () => {
        lock = null;
      });
    } catch (error) {
      lock = null; // not a secure context, battery saver, or not allowed: the screen may sleep
    }
  }

  function letSleep() {
    if (lock) lock.release().catch(() => {});
    lock = null;
  }

  if (media) {
    const actions = {
      play, pause: () => audio.pause(), previoustrack: previous, nexttrack: next,
      seekto: (details) => goTo(details.seekTime * 1000),
      seekbackward: (details) => goTo(now() - (details.seekOffset || 10) * 1000),
      seekforward: (details) => goTo(now() + (details.seekOffset || 10) * 1000),
    };
    for (const [action, handler] of Object.entries(actions)) {
      try {
        media.setActionHandler(action, handler);
      } catch (error) {
        // an action this browser does not know
      }
    }
  }

  document.getElementById("play").addEventListener("click", () => (audio.paused ? play() : audio.pause()));
  document.getElementById("previous").addEventListener("click", previous);
  document.getElementById("nexttrack").addEventListener("click", next);
  seek.addEventListener("input", () => goTo(Number(seek.value) * 1000));
  seek.addEventListener("change", () => seek.blur());
  audio.addEventListener("play", () => {
    render();
    position();
    animate();
    keepAwake();
  });
  audio.addEventListener("pause", () => {
    render();
    position();
    letSleep();
    remember(true);
  });
  for (const event of ["timeupdate", "seeked", "seeking", "ended", "loadedmetadata"]) audio.addEventListener(event, render);
  audio.addEventListener("timeupdate", () => remember(false));
  for (const event of ["seeked", "ended"]) audio.addEventListener(event, () => remember(true));
  window.addEventListener("pagehide", () => remember(true));
  for (const event of ["loadedmetadata", "seeked", "ratechange"]) audio.addEventListener(event, position);
  document.addEventListener("visibilitychange", () => {
    render();
    if (document.visibilityState === "visible") {
      animate();
      keepAwake();
    }
  });
  resume();
  render();
}

function fail(error) {
  console.error(error);
  const where = document.getElementById("phase") || document.getElementById("sessions");
  if (where) where.textContent = `Could not load: ${error.message}`;
}

document.addEventListener("DOMContentLoaded", () => {
  (document.body.classList.contains("player") ? showPlayer() : showList()).catch(fail);
});
