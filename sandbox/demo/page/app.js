/* global window, document, localStorage, fetch, CSS, EventSource */
// The channel page: draws the document the demo server pushes (server-sent events) and turns what the person
// does into requests the server forwards to the bot as Slack would. No framework: the renderers are pure modules.
import { renderBlocks, renderText } from "./block-kit.ts";
import { escapeHtml, renderMrkdwn } from "./mrkdwn.ts";

const $ = (id) => document.getElementById(id);
const state = {
  view: undefined,
  user: localStorage.getItem("demo-user") ?? "",
  thread: undefined,
  openView: undefined,
};

async function post(action, body) {
  const response = await fetch(`/api/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

function clock(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
}

function person(id) {
  const view = state.view;
  if (id === view.bot.id) return { name: view.bot.name, bot: true };
  const found = view.people.find((p) => p.id === id);
  return { name: found?.realName ?? id, bot: false };
}

function avatar(name, bot) {
  const initials = bot
    ? "🐦"
    : name
        .split(" ")
        .map((part) => part[0])
        .join("")
        .slice(0, 2);
  return `<div class="avatar${bot ? " bot" : ""}">${escapeHtml(initials)}</div>`;
}

function messageHtml(message, { ephemeral = false, inThread = false } = {}) {
  const who = person(message.user);
  const context = { directory: state.view.directory };
  const body =
    message.blocks.length > 0
      ? renderBlocks(message.blocks, context)
      : renderMrkdwn(message.text, context.directory);
  const files = (message.files ?? [])
    .map(
      (file) =>
        `<figure class="file"><img src="${escapeHtml(file.url)}" alt="${escapeHtml(file.title)}"><figcaption>${escapeHtml(file.title)}</figcaption></figure>`,
    )
    .join("");
  const replies =
    !inThread && message.replies?.length > 0
      ? `<button type="button" class="replies" data-thread="${escapeHtml(message.ts)}">${message.replies.length} ${message.replies.length === 1 ? "reply" : "replies"}</button>`
      : "";
  return (
    `<div class="message${ephemeral ? " ephemeral" : ""}" data-ts="${escapeHtml(message.ts)}"${message.text.match(/^[a-z0-9-]+-\d+:/) ? ` data-rollout="${escapeHtml(message.text.split(":")[0])}"` : ""}>` +
    avatar(who.name, who.bot) +
    `<div class="message-main"><div class="message-meta"><span class="author">${escapeHtml(who.name)}</span>` +
    (who.bot ? '<span class="app-badge">APP</span>' : "") +
    `<span class="time">${clock(message.ts)}</span>${message.edited ? '<span class="edited">(edited)</span>' : ""}</div>` +
    (ephemeral ? '<div class="only-you">👁 Only visible to you</div>' : "") +
    `<div class="message-body">${body}</div>${files}${replies}</div></div>`
  );
}

function drawMessages() {
  const view = state.view;
  const items = [
    ...view.messages.map((m) => ({ ts: m.ts, ephemeral: false, html: messageHtml(m) })),
    ...view.ephemerals
      .filter((e) => e.user === state.user)
      .map((e) => ({
        ts: e.ts,
        ephemeral: true,
        html: messageHtml({ ...e, user: view.bot.id, files: [], replies: [] }, { ephemeral: true }),
      })),
  ].sort((a, b) => Number(a.ts) - Number(b.ts));
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (items.length === 0) {
    list.innerHTML = '<div class="empty">No messages yet. Type a /canary command below.</div>';
    return;
  }
  list.querySelector(".empty")?.remove();
  // Replace only the messages that changed, so a button being clicked is not swapped out under the pointer.
  const existing = new Map([...list.children].map((node) => [node.dataset.key, node]));
  let previous = null;
  for (const item of items) {
    const key = `${item.ephemeral ? "e" : "m"}${item.ts}`;
    let node = existing.get(key);
    if (node === undefined || node.dataset.html !== item.html) {
      const fresh = document.createElement("div");
      fresh.innerHTML = item.html;
      const element = fresh.firstElementChild;
      element.dataset.key = key;
      element.dataset.html = item.html;
      if (node === undefined) list.insertBefore(element, previous ? previous.nextSibling : list.firstChild);
      else node.replaceWith(element);
      node = element;
    }
    existing.delete(key);
    previous = node;
  }
  for (const gone of existing.values()) gone.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function drawThread() {
  const pane = $("thread");
  const parent = state.view.messages.find((m) => m.ts === state.thread);
  if (parent === undefined) {
    pane.classList.add("hidden");
    return;
  }
  pane.classList.remove("hidden");
  const count = parent.replies.length;
  $("thread-body").innerHTML =
    messageHtml(parent, { inThread: true }) +
    `<div class="thread-count">${count} ${count === 1 ? "reply" : "replies"}</div>` +
    parent.replies.map((reply) => messageHtml(reply, { inThread: true })).join("");
}

function drawTraffic() {
  const view = state.view;
  $("virtual-services").innerHTML = view.virtualServices
    .filter((vs) => vs.name === "reviews")
    .concat(view.virtualServices.filter((vs) => vs.name !== "reviews"))
    .map(
      (vs) =>
        `<div class="vs" id="vs-${escapeHtml(vs.namespace)}-${escapeHtml(vs.name)}"><div class="vs-name">VirtualService <b>${escapeHtml(vs.name)}</b> <span class="muted">${escapeHtml(vs.namespace)}</span></div>` +
        vs.routes
          .map(
            (route) =>
              `<div class="route"><div class="bar">${route.destinations
                .map(
                  (d) =>
                    `<div class="segment subset-${escapeHtml(d.subset)}" style="flex-grow:${d.weight}" title="${escapeHtml(d.subset)} ${d.weight}%"></div>`,
                )
                .join("")}</div><div class="weights">${route.destinations
                .map(
                  (d) =>
                    `<span class="weight" data-subset="${escapeHtml(d.subset)}">${escapeHtml(d.subset)} ${d.weight}%</span>`,
                )
                .join("")}</div></div>`,
          )
          .join("") +
        "</div>",
    )
    .join("");
  const overrides = Object.entries(view.mesh?.subsets ?? {})
    .map(
      ([key, b]) =>
        `${key}: ${b.errorRate === undefined ? "" : `${Math.round(b.errorRate * 1000) / 10}% errors `}${b.latencyMs?.p99 === undefined ? "" : `p99 ${b.latencyMs.p99}ms`}`,
    )
    .join("; ");
  $("mesh-settings").textContent = view.mesh
    ? `${view.mesh.rps} req/s per service${overrides ? ` · ${overrides}` : " · all subsets healthy"}`
    : "";
  $("kubectl-line").textContent = view.kubectl;
  $("analysis-note").textContent = view.analysis.note;
  $("analysis-note").classList.toggle("warning", !view.analysis.on);
}

function drawPeople() {
  const view = state.view;
  if (!view.people.some((p) => p.id === state.user)) state.user = view.people[0]?.id ?? "";
  const switcher = $("user-switcher");
  if (switcher.options.length !== view.people.length) {
    switcher.innerHTML = view.people
      .map((p) => `<option value="${escapeHtml(p.id)}">${escapeHtml(p.realName)}</option>`)
      .join("");
  }
  switcher.value = state.user;
  $("people").innerHTML = view.people
    .map(
      (p) =>
        `<div class="sidebar-item person${p.id === state.user ? " me" : ""}" title="${escapeHtml(p.role)}">${escapeHtml(p.realName)}<span class="role">${escapeHtml(p.role)}</span></div>`,
    )
    .join("");
}

function drawModal() {
  const overlay = $("overlay");
  const open = state.view.views.find((v) => v.user === state.user);
  if (open === undefined) {
    if (overlay.dataset.kind === "modal") closeOverlay();
    return;
  }
  if (overlay.dataset.viewId === open.id) return; // keep what the person has typed
  const v = open.view;
  overlay.dataset.kind = "modal";
  overlay.dataset.viewId = open.id;
  overlay.innerHTML =
    `<form class="modal" id="modal-form" role="dialog" aria-label="${escapeHtml(v.title?.text ?? "")}">` +
    `<header class="modal-title">${renderText(v.title)}<button type="button" class="icon" data-modal-close aria-label="Close">✕</button></header>` +
    `<div class="modal-body">${renderBlocks(v.blocks, { directory: state.view.directory })}</div>` +
    `<footer class="modal-footer"><button type="button" class="bk-button" data-modal-close>${renderText(v.close ?? { type: "plain_text", text: "Cancel" })}</button>` +
    `<button type="submit" class="bk-button primary">${renderText(v.submit ?? { type: "plain_text", text: "Submit" })}</button></footer></form>`;
  overlay.classList.remove("hidden");
}

function closeOverlay() {
  const overlay = $("overlay");
  overlay.classList.add("hidden");
  overlay.innerHTML = "";
  delete overlay.dataset.kind;
  delete overlay.dataset.viewId;
}

function draw() {
  if (state.view === undefined) return;
  drawPeople();
  drawMessages();
  drawThread();
  drawTraffic();
  drawModal();
  document.body.dataset.ready = "true";
}

/** A button's confirm object as Slack's dialog: resolves true when confirmed. */
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const overlay = $("overlay");
    overlay.dataset.kind = "confirm";
    overlay.innerHTML =
      `<div class="modal confirm" role="alertdialog" aria-label="${escapeHtml(confirm.title?.text ?? "Are you sure?")}">` +
      `<header class="modal-title">${renderText(confirm.title ?? { type: "plain_text", text: "Are you sure?" })}</header>` +
      `<div class="modal-body">${renderText(confirm.text, { directory: state.view.directory })}</div>` +
      `<footer class="modal-footer"><button type="button" class="bk-button" data-answer="no">${renderText(confirm.deny ?? { type: "plain_text", text: "Cancel" })}</button>` +
      `<button type="button" class="bk-button ${confirm.style === "danger" ? "danger" : "primary"}" data-answer="yes">${renderText(confirm.confirm ?? { type: "plain_text", text: "Yes" })}</button></footer></div>`;
    overlay.classList.remove("hidden");
    overlay.onclick = (event) => {
      const answer = event.target.closest("[data-answer]")?.dataset.answer;
      if (answer === undefined) return;
      overlay.onclick = null;
      closeOverlay();
      resolve(answer === "yes");
    };
  });
}

function flash(text) {
  const note = $("composer-hint");
  note.textContent = text;
  note.classList.add("error");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.bk-button[data-action-id]");
  if (button !== null && !button.closest(".modal")) {
    const confirm = button.dataset.confirm ? JSON.parse(button.dataset.confirm) : undefined;
    if (confirm && !(await confirmDialog(confirm))) return;
    // A link button opens its URL and, as in Slack, still sends the click to the app.
    if (button.dataset.url) window.open(button.dataset.url, "_blank", "noopener");
    const message = button.closest(".message");
    button.disabled = true;
    try {
      await post("click", {
        user: state.user,
        channel: state.view.channel.id,
        ts: message.dataset.ts,
        actionId: button.dataset.actionId,
        blockId: button.dataset.blockId,
      });
    } catch (error) {
      flash(error.message);
    } finally {
      button.disabled = false;
    }
    return;
  }
  const replies = event.target.closest("[data-thread]");
  if (replies !== null) {
    state.thread = replies.dataset.thread;
    drawThread();
    return;
  }
  if (event.target.closest("[data-modal-close]")) {
    const viewId = $("overlay").dataset.viewId;
    closeOverlay();
    if (viewId) await post("close", { viewId });
  }
});

document.addEventListener("submit", async (event) => {
  if (event.target.id === "composer") {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (text === "") return;
    input.value = "";
    $("composer-hint").classList.remove("error");
    try {
      await post("command", { user: state.user, text });
    } catch (error) {
      flash(error.message);
    }
  }
  if (event.target.id === "modal-form") {
    event.preventDefault();
    const form = event.target;
    const values = {};
    for (const input of form.querySelectorAll(".bk-input")) {
      values[input.name] = {
        actionId: input.dataset.actionId,
        type: input.dataset.select ? "static_select" : "plain_text_input",
        value: input.value,
      };
    }
    for (const error of form.querySelectorAll(".bk-error")) error.textContent = "";
    const answer = await post("submit", { user: state.user, viewId: $("overlay").dataset.viewId, values });
    if (answer.response_action === "errors") {
      for (const [blockId, text] of Object.entries(answer.errors ?? {})) {
        const slot = form.querySelector(`[data-error-for="${CSS.escape(blockId)}"]`);
        if (slot) slot.textContent = text;
      }
    } else closeOverlay();
  }
});

$("user-switcher").addEventListener("change", (event) => {
  state.user = event.target.value;
  localStorage.setItem("demo-user", state.user);
  closeOverlay();
  draw();
});
$("thread-close").addEventListener("click", () => {
  state.thread = undefined;
  drawThread();
});
$("fault-apply").addEventListener("click", () => {
  const subset = $("fault-subset").value;
  post("mesh", {
    subsets: {
      [subset]: {
        errorRate: Number($("fault-errors").value) / 100,
        latencyMs: { p99: Number($("fault-p99").value) },
      },
    },
  }).catch((error) => flash(error.message));
});
$("fault-heal").addEventListener("click", () => {
  const subsets = Object.fromEntries(Object.keys(state.view?.mesh?.subsets ?? {}).map((key) => [key, null]));
  post("mesh", { subsets }).catch((error) => flash(error.message));
});

const events = new EventSource("/api/events");
events.onmessage = (event) => {
  state.view = JSON.parse(event.data);
  draw();
};
