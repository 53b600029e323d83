// UI strings of the widget. German (formal "Sie") is the default, English on request.
// Only the widget's own chrome lives here; every bot answer comes from the Rasa domain.

export type Lang = "de" | "en";

export interface Strings {
  launcher: string;
  unread: (count: number) => string;
  title: string;
  subtitle: string;
  close: string;
  transcript: string;
  inputLabel: string;
  placeholder: string;
  send: string;
  you: string;
  bot: string;
  agentSuffix: string;
  notice: string;
  typing: string;
  suggestions: string;
  connecting: string;
  online: string;
  offline: string;
  reconnected: string;
  sending: string;
  joined: (name: string) => string;
  left: (name: string) => string;
  errors: Record<string, string>;
  errorFallback: string;
  tooLong: (max: number) => string;
}

export const STRINGS: Record<Lang, Strings> = {
  de: {
    launcher: "Kundenservice-Chat",
    unread: (n) => (n === 1 ? "1 neue Nachricht" : `${n} neue Nachrichten`),
    title: "Kundenservice",
    subtitle: "Bestellstatus, Lieferzeit, Rücksendung",
    close: "Chat schließen",
    transcript: "Gesprächsverlauf",
    inputLabel: "Ihre Nachricht",
    placeholder: "Ihre Nachricht …",
    send: "Senden",
    you: "Sie",
    bot: "Assistent",
    agentSuffix: "Kundenservice-Team",
    notice: "Hinweis",
    typing: "Der Assistent schreibt …",
    suggestions: "Antwortvorschläge",
    connecting: "Verbindung wird aufgebaut …",
    online: "Verbunden",
    offline: "Verbindung unterbrochen. Ihre Nachrichten werden gesendet, sobald sie wieder steht.",
    reconnected: "Verbindung wiederhergestellt.",
    sending: "wird gesendet",
    joined: (name) => `${name} vom Kundenservice hat den Chat übernommen.`,
    left: (name) => `${name} hat den Chat verlassen. Der Assistent antwortet wieder.`,
    errors: {
      message_too_long: "Die Nachricht ist zu lang und wurde nicht gesendet.",
      invalid_message: "Leere Nachrichten werden nicht gesendet.",
      no_session: "Die Sitzung wird neu aufgebaut. Bitte senden Sie die Nachricht erneut.",
    },
    errorFallback: "Die Nachricht konnte nicht verarbeitet werden.",
    tooLong: (max) => `Bitte fassen Sie sich kürzer (höchstens ${max} Zeichen).`,
  },
  en: {
    launcher: "Customer service chat",
    unread: (n) => (n === 1 ? "1 new message" : `${n} new messages`),
    title: "Customer service",
    subtitle: "Order status, delivery time, returns",
    close: "Close chat",
    transcript: "Conversation",
    inputLabel: "Your message",
    placeholder: "Your message …",
    send: "Send",
    you: "You",
    bot: "Assistant",
    agentSuffix: "customer service team",
    notice: "Notice",
    typing: "The assistant is typing …",
    suggestions: "Suggested replies",
    connecting: "Connecting …",
    online: "Connected",
    offline: "Connection lost. Your messages will be sent as soon as it is back.",
    reconnected: "Connection restored.",
    sending: "sending",
    joined: (name) => `${name} from customer service has joined the chat.`,
    left: (name) => `${name} has left the chat. The assistant is answering again.`,
    errors: {
      message_too_long: "The message is too long and was not sent.",
      invalid_message: "Empty messages are not sent.",
      no_session: "The session is being restored. Please send the message again.",
    },
    errorFallback: "The message could not be processed.",
    tooLong: (max) => `Please keep it shorter (at most ${max} characters).`,
  },
};

export function pickLang(requested: string | null | undefined): Lang {
  const value = (requested || "de").toLowerCase();
  if (value === "auto") {
    return (navigator.language || "de").toLowerCase().startsWith("en") ? "en" : "de";
  }
  return value.startsWith("en") ? "en" : "de";
}
