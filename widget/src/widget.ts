// Kundendienst-Bot storefront widget: one self-contained script, no framework on the page.
//
//   <script src="https://bot.example/kdbot-widget.js" data-server-url="https://bot.example"
//           data-lang="de" data-color="#0b4f8a" data-position="right" defer></script>
//
// Speaks Rasa's socket.io protocol (session_request/session_confirm, user_uttered/bot_uttered)
// plus the channel's history_request (transcript of this session after a reload or in a
// second tab), user_echo (a message typed in another tab) and widget_error.

import { io, Socket } from "socket.io-client";
import { brandColors } from "./colors";
import { Lang, pickLang, STRINGS, Strings } from "./strings";
import { CSS } from "./style";

interface QuickReply {
  title: string;
  payload: string;
}

interface BotMessage {
  text?: string;
  quick_replies?: QuickReply[];
  buttons?: QuickReply[];
  attachment?: { type?: string; payload?: { src?: string } };
  metadata?: { handoff_event?: string; agent?: { id?: string; name?: string }; utter_action?: string };
}

interface HistoryItem extends BotMessage {
  from: "user" | "bot" | "agent" | "system";
}

interface Pending {
  message_id: string;
  text: string;
  element: HTMLLIElement;
  sent: boolean;
}

interface Config {
  serverUrl: string;
  socketPath: string;
  lang: Lang;
  primary: string;
  onPrimary: string;
  position: "left" | "right";
  maxChars: number;
  open: boolean;
}

const TYPING_TIMEOUT_MS = 20000;
const ACK_TIMEOUT_MS = 30000;

function readConfig(script: HTMLScriptElement | null): Config {
  const data = script ? script.dataset : ({} as DOMStringMap);
  const scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const colors = brandColors(data.color || null, data.textColor || null);
  return {
    serverUrl: (data.serverUrl || scriptOrigin).replace(/\/+$/, ""),
    socketPath: data.socketPath || "/socket.io",
    lang: pickLang(data.lang),
    primary: colors.primary,
    onPrimary: colors.onPrimary,
    position: data.position === "left" ? "left" : "right",
    maxChars: Number(data.maxChars) > 0 ? Number(data.maxChars) : 2000,
    open: data.open === "true",
  };
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string> = {}, text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function newId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatWidget {
  readonly config: Config;
  readonly t: Strings;
  readonly host: HTMLElement;
  private root: ShadowRoot;
  private launcher!: HTMLButtonElement;
  private panel!: HTMLElement;
  private status!: HTMLElement;
  private log!: HTMLOListElement;
  private logRegion!: HTMLElement;
  private typing!: HTMLElement;
  private input!: HTMLTextAreaElement;
  private form!: HTMLFormElement;
  private hint!: HTMLElement;
  private socket: Socket | null = null;
  private sessionId: string | null;
  private confirmed = false;
  private everConnected = false;
  private agentPresent = false;
  private pending: Pending[] = [];
  private lastReplies: QuickReply[] = [];
  private typingTimer: number | undefined;
  private unread = 0;
  private badge!: HTMLElement;
  private readonly storageKey: string;

  constructor(config: Config) {
    this.config = config;
    this.t = STRINGS[config.lang];
    this.storageKey = `kdbot:session:${config.serverUrl}`;
    this.sessionId = this.load();
    this.host = el("div", { id: "kdbot-widget" });
    this.root = this.host.attachShadow({ mode: "open" });
    this.build();
    document.body.appendChild(this.host);
    if (config.open || sessionStorage.getItem(`${this.storageKey}:open`) === "1") this.open(false);
  }

  private load(): string | null {
    try {
      return localStorage.getItem(this.storageKey);
    } catch {
      return null;
    }
  }

  private store(sessionId: string): void {
    try {
      localStorage.setItem(this.storageKey, sessionId);
    } catch {
      /* storage disabled: the session lasts as long as the page */
    }
  }

  private build(): void {
    const { t, config } = this;
    const style = el("style");
    style.textContent = CSS.replace(/__PRIMARY__/g, config.primary)
      .replace(/__ON_PRIMARY__/g, config.onPrimary);
    const wrapper = el("div", { class: `kd kd-${config.position}`, lang: config.lang });

    this.launcher = el("button", {
      type: "button", class: "kd-launcher", "aria-expanded": "false",
      "aria-controls": "kd-panel", "aria-label": t.launcher,
    });
    this.launcher.innerHTML =
      '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="28" height="28">' +
      '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
    this.badge = el("span", { class: "kd-badge", "aria-hidden": "true", hidden: "" });
    this.launcher.appendChild(this.badge);
    this.launcher.addEventListener("click", () => (this.isOpen() ? this.close() : this.open(true)));

    this.panel = el("section", { id: "kd-panel", class: "kd-panel", "aria-labelledby": "kd-title", hidden: "" });
    const header = el("header", { class: "kd-header" });
    const titles = el("div");
    titles.append(el("h2", { id: "kd-title" }, t.title), el("p", { class: "kd-sub" }, t.subtitle));
    const closeButton = el("button", { type: "button", class: "kd-close", "aria-label": t.close });
    closeButton.innerHTML =
      '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20">' +
      '<path fill="none" stroke="currentColor" stroke-width="2.5" d="M5 5l14 14M19 5L5 19"/></svg>';
    closeButton.addEventListener("click", () => this.close());
    header.append(titles, closeButton);

    this.status = el("p", { class: "kd-status", role: "status" }, t.connecting);
    // the live region wraps the list (a role on the <ol> itself would orphan its items)
    this.logRegion = el("div", {
      class: "kd-log", role: "log", "aria-live": "polite", "aria-label": t.transcript, tabindex: "0",
    });
    this.log = el("ol", { class: "kd-list" });
    this.logRegion.appendChild(this.log);
    this.typing = el("p", { class: "kd-typing", hidden: "" });
    this.typing.append(el("span", { class: "kd-dots", "aria-hidden": "true" }, "• • •"), " ", t.typing);

    this.form = el("form", { class: "kd-form" });
    const label = el("label", { for: "kd-input", class: "kd-sr" }, t.inputLabel);
    this.input = el("textarea", {
      id: "kd-input", rows: "1", placeholder: t.placeholder, "aria-describedby": "kd-hint",
      maxlength: String(config.maxChars), autocomplete: "off",
    });
    this.hint = el("p", { id: "kd-hint", class: "kd-hint", "aria-live": "polite" });
    const send = el("button", { type: "submit", class: "kd-send" }, t.send);
    this.form.append(label, this.input, send, this.hint);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });

    this.panel.append(header, this.status, this.logRegion, this.typing, this.form);
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    wrapper.append(this.panel, this.launcher);
    this.root.append(style, wrapper);
  }

  isOpen(): boolean {
    return !this.panel.hidden;
  }

  private setUnread(count: number): void {
    this.unread = count;
    this.badge.hidden = count === 0;
    this.badge.textContent = String(count);
    const label = count ? `${this.t.launcher}, ${this.t.unread(count)}` : this.t.launcher;
    this.launcher.setAttribute("aria-label", label);
  }

  open(focus: boolean): void {
    this.setUnread(0);
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    sessionStorage.setItem(`${this.storageKey}:open`, "1");
    this.connect();
    if (focus) this.input.focus();
    this.scroll();
  }

  close(): void {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    sessionStorage.removeItem(`${this.storageKey}:open`);
    this.launcher.focus();
  }

  private connect(): void {
    if (this.socket) return;
    const socket = io(this.config.serverUrl, {
      path: this.config.socketPath,
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.confirmed = false;
      socket.emit("session_request", { session_id: this.sessionId });
    });
    socket.on("session_confirm", (data: unknown) => {
      const id = typeof data === "string" ? data : (data as { session_id?: string })?.session_id;
      if (!id) return;
      this.sessionId = id;
      this.store(id);
      this.confirmed = true;
      const again = this.everConnected;
      this.everConnected = true;
      this.setStatus(again ? this.t.reconnected : this.t.online, false);
      this.loadHistory();
    });
    socket.on("disconnect", (reason: string) => {
      // the server closed this socket (e.g. a packet over its size limit): come back anyway
      if (reason === "io server disconnect") window.setTimeout(() => socket.connect(), 1000);
      this.confirmed = false;
      for (const pending of this.pending) pending.sent = false;
      this.setStatus(this.t.offline, true);
      this.showTyping(false);
    });
    socket.on("connect_error", () => {
      if (this.everConnected) this.setStatus(this.t.offline, true);
    });
    socket.on("bot_uttered", (message: BotMessage) => this.onBotMessage(message));
    socket.on("user_echo", (message: { text?: string }) => {
      if (typeof message?.text === "string") this.appendUser(this.titleForPayload(message.text));
    });
    socket.on("widget_error", (error: { code?: string }) => {
      const code = error?.code || "";
      this.setHint(this.t.errors[code] || this.t.errorFallback);
      this.showTyping(false);
    });
  }

  private setStatus(text: string, problem: boolean): void {
    this.status.textContent = text;
    this.status.classList.toggle("kd-problem", problem);
    this.panel.classList.toggle("kd-offline", problem);
  }

  private setHint(text: string): void {
    this.hint.textContent = text;
  }

  /** Replaces the transcript with the server's copy, then sends what is still pending. */
  private loadHistory(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.timeout(ACK_TIMEOUT_MS).emit("history_request", {}, (err: unknown, reply: any) => {
      if (!err && reply && reply.status === "ok" && Array.isArray(reply.messages)) {
        this.renderHistory(reply.messages as HistoryItem[]);
      }
      this.flush();
    });
  }

  private renderHistory(items: HistoryItem[]): void {
    this.logRegion.setAttribute("aria-busy", "true");
    this.log.replaceChildren();
    this.agentPresent = false;
    this.lastReplies = [];
    items.forEach((item, index) => {
      if (item.from === "user") {
        this.appendUser(this.titleForPayload(item.text || ""));
        this.lastReplies = [];
      } else {
        const isLast = index === items.length - 1;
        this.renderBot(item, isLast);
      }
    });
    for (const pending of this.pending) this.log.appendChild(pending.element);
    this.logRegion.setAttribute("aria-busy", "false");
    this.scroll();
  }

  private titleForPayload(text: string): string {
    const match = this.lastReplies.find((reply) => reply.payload === text);
    return match ? match.title : text;
  }

  private onBotMessage(message: BotMessage): void {
    const event = message?.metadata?.handoff_event;
    if (!event || event === "message") this.showTyping(false);
    this.renderBot(message, true);
    this.scroll();
    if (!this.isOpen()) this.setUnread(this.unread + 1);
  }

  private renderBot(message: BotMessage, interactive: boolean): void {
    const t = this.t;
    const meta = message.metadata || {};
    const agentName = meta.agent?.name || meta.agent?.id || "";
    this.disableReplies();
    if (meta.handoff_event === "joined" || meta.handoff_event === "left") {
      this.agentPresent = meta.handoff_event === "joined";
      const fallback = this.agentPresent ? t.joined(agentName || t.agentSuffix) : t.left(agentName || t.agentSuffix);
      const item = el("li", { class: "kd-msg kd-system" });
      item.append(el("span", { class: "kd-sr" }, `${t.notice}: `), document.createTextNode(message.text || fallback));
      this.log.appendChild(item);
      if (this.agentPresent) this.showTyping(false);
      return;
    }
    const fromAgent = meta.handoff_event === "message";
    const item = el("li", { class: fromAgent ? "kd-msg kd-agent" : "kd-msg kd-bot" });
    const who = fromAgent ? `${agentName || t.agentSuffix} (${t.agentSuffix})` : t.bot;
    item.append(el("span", { class: fromAgent ? "kd-who" : "kd-sr" }, fromAgent ? who : `${who}: `));
    if (fromAgent) item.append(el("span", { class: "kd-sr" }, ": "));
    const body = el("span", { class: "kd-text" });
    body.textContent = message.text || "";
    item.append(body);
    const src = message.attachment?.type === "image" ? message.attachment.payload?.src : undefined;
    if (src && /^https?:/.test(src)) item.append(el("img", { src, alt: "", class: "kd-img" }));
    this.log.appendChild(item);
    const replies = message.quick_replies || message.buttons || [];
    this.lastReplies = replies;
    if (replies.length && interactive) this.log.appendChild(this.repliesGroup(replies));
  }

  private repliesGroup(replies: QuickReply[]): HTMLLIElement {
    const item = el("li", { class: "kd-replies-item" });
    const group = el("div", { class: "kd-replies", role: "group", "aria-label": this.t.suggestions });
    for (const reply of replies) {
      const button = el("button", { type: "button", class: "kd-reply" }, reply.title);
      button.addEventListener("click", () => {
        this.disableReplies();
        this.send(reply.payload, reply.title);
        this.input.focus();
      });
      group.appendChild(button);
    }
    item.appendChild(group);
    return item;
  }

  private disableReplies(): void {
    this.log.querySelectorAll(".kd-replies-item").forEach((node) => node.remove());
  }

  private appendUser(text: string): HTMLLIElement {
    this.disableReplies();
    const item = el("li", { class: "kd-msg kd-user" });
    item.append(el("span", { class: "kd-sr" }, `${this.t.you}: `), el("span", { class: "kd-text" }, text));
    this.log.appendChild(item);
    this.scroll();
    return item;
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    if (text.length > this.config.maxChars) {
      this.setHint(this.t.tooLong(this.config.maxChars));
      return;
    }
    this.input.value = "";
    this.send(text, text);
  }

  /** Shows the message at once and sends it now or, when offline, after reconnecting. */
  send(payload: string, shown: string): void {
    this.setHint("");
    const element = this.appendUser(shown);
    const pending: Pending = { message_id: newId(), text: payload, element, sent: false };
    element.classList.add("kd-pending");
    element.append(el("span", { class: "kd-state" }, ` (${this.t.sending})`));
    this.pending.push(pending);
    this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    if (!socket || !socket.connected || !this.confirmed) return;
    for (const pending of this.pending) {
      if (pending.sent) continue;
      pending.sent = true;
      if (!this.agentPresent) this.showTyping(true);
      socket.timeout(ACK_TIMEOUT_MS).emit(
        "user_uttered",
        {
          message: pending.text, session_id: this.sessionId, message_id: pending.message_id,
          metadata: { ui_language: this.config.lang },
        },
        (err: unknown, reply: { status?: string } | undefined) => {
          if (err) {
            pending.sent = false; // no answer in time: stays pending, sent again after a reconnect
            return;
          }
          this.pending = this.pending.filter((p) => p !== pending);
          pending.element.classList.remove("kd-pending");
          pending.element.querySelector(".kd-state")?.remove();
          if (reply?.status === "error") {
            pending.element.classList.add("kd-failed");
            this.showTyping(false);
          }
        },
      );
    }
  }

  private showTyping(on: boolean): void {
    window.clearTimeout(this.typingTimer);
    this.typing.hidden = !on;
    if (on) this.typingTimer = window.setTimeout(() => (this.typing.hidden = true), TYPING_TIMEOUT_MS);
    this.scroll();
  }

  private scroll(): void {
    this.logRegion.scrollTop = this.logRegion.scrollHeight;
  }

  currentSession(): string | null {
    return this.sessionId;
  }
}

function boot(): void {
  const script = (document.currentScript as HTMLScriptElement | null) ||
    document.querySelector<HTMLScriptElement>("script[data-kdbot], script[src*='kdbot-widget']");
  const start = () => {
    if (document.getElementById("kdbot-widget")) return;
    (window as any).kdbotWidget = new ChatWidget(readConfig(script));
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
}

boot();
