// Styles live in the widget's shadow root, so the shop's CSS cannot break them and ours
// cannot leak into the shop. Colours meet WCAG 2.1 AA; __PRIMARY__/__ON_PRIMARY__ come from
// the data attributes (the text colour is chosen for contrast, see colors.ts).
export const CSS = `
:host { all: initial; }
.kd { position: fixed; bottom: 20px; z-index: 2147483000; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1b1b1b; }
.kd-right { right: 20px; } .kd-left { left: 20px; }
.kd * { box-sizing: border-box; }
.kd button, .kd textarea { font: inherit; }
.kd-sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.kd-launcher { display: flex; align-items: center; justify-content: center; width: 60px; height: 60px; border-radius: 50%; border: 2px solid __ON_PRIMARY__; background: __PRIMARY__; color: __ON_PRIMARY__; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.3); margin-left: auto; }
.kd-left .kd-launcher { margin-left: 0; }
.kd-launcher { position: relative; }
.kd-badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px; background: #b00020; color: #ffffff; font-size: .8125rem; font-weight: 700; line-height: 22px; }
.kd-badge[hidden] { display: none; }
.kd-panel { display: flex; flex-direction: column; width: min(380px, calc(100vw - 40px)); height: min(580px, calc(100vh - 110px)); margin-bottom: 12px; background: #ffffff; border: 1px solid #6b6b6b; border-radius: 12px; overflow: hidden; box-shadow: 0 8px 30px rgba(0,0,0,.25); }
.kd-panel[hidden] { display: none; }
.kd-header { display: flex; align-items: flex-start; justify-content: space-between; gap: 8px; padding: 12px 14px; background: __PRIMARY__; color: __ON_PRIMARY__; }
.kd-header h2 { margin: 0; font-size: 1.1rem; }
.kd-sub { margin: 2px 0 0; font-size: .875rem; }
.kd-close { display: flex; align-items: center; justify-content: center; min-width: 44px; min-height: 44px; background: transparent; color: __ON_PRIMARY__; border: 0; border-radius: 6px; cursor: pointer; }
.kd-status { margin: 0; padding: 4px 14px; font-size: .8125rem; color: #1d5b2a; background: #eef7f0; }
.kd-status.kd-problem { color: #7a1a00; background: #fff1e5; font-weight: 600; }
.kd-log { flex: 1; overflow-y: auto; padding: 12px 14px; }
.kd-list { margin: 0; padding: 0; list-style: none; display: flex; flex-direction: column; gap: 8px; }
.kd-msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.kd-bot { align-self: flex-start; background: #f0f2f5; color: #1b1b1b; }
.kd-agent { align-self: flex-start; background: #fff8e1; color: #1b1b1b; border-left: 4px solid #8a5a00; }
.kd-who { display: block; font-size: .8125rem; font-weight: 700; color: #5c3c00; }
.kd-user { align-self: flex-end; background: __PRIMARY__; color: __ON_PRIMARY__; }
.kd-pending { opacity: .85; }
.kd-state { font-size: .8125rem; }
.kd-failed { text-decoration: line-through; }
.kd-system { align-self: center; max-width: 95%; background: transparent; color: #3d3d3d; font-size: .875rem; font-style: italic; text-align: center; border: 1px dashed #6b6b6b; }
.kd-img { display: block; max-width: 100%; margin-top: 6px; border-radius: 6px; }
.kd-replies-item { align-self: stretch; }
.kd-replies { display: flex; flex-wrap: wrap; gap: 6px; }
.kd-reply { min-height: 44px; padding: 6px 14px; border: 2px solid __PRIMARY__; border-radius: 22px; background: #ffffff; color: #1b1b1b; cursor: pointer; }
.kd-reply:hover { background: #f0f2f5; }
.kd-typing { margin: 0; padding: 2px 14px 6px; font-size: .8125rem; color: #3d3d3d; }
.kd-typing[hidden] { display: none; }
.kd-dots { letter-spacing: 2px; }
.kd-form { display: grid; grid-template-columns: 1fr auto; gap: 8px; padding: 10px; border-top: 1px solid #6b6b6b; }
.kd-form textarea { resize: none; min-height: 44px; max-height: 120px; padding: 10px; border: 1px solid #6b6b6b; border-radius: 8px; color: #1b1b1b; background: #fff; }
.kd-form textarea::placeholder { color: #5f5f5f; }
.kd-send { min-height: 44px; padding: 0 16px; border: 0; border-radius: 8px; background: __PRIMARY__; color: __ON_PRIMARY__; font-weight: 600; cursor: pointer; }
.kd-hint { grid-column: 1 / -1; margin: 0; font-size: .8125rem; color: #7a1a00; }
.kd-hint:empty { display: none; }
.kd :focus { outline: none; }
.kd :focus-visible, .kd-log:focus { outline: 3px solid #1b1b1b; outline-offset: 2px; box-shadow: 0 0 0 5px #ffffff; }
.kd-header :focus-visible { outline-color: __ON_PRIMARY__; box-shadow: none; }
@media (prefers-reduced-motion: no-preference) { .kd-launcher { transition: transform .15s; } .kd-launcher:hover { transform: scale(1.05); } }
@media (forced-colors: active) { .kd :focus-visible { outline: 3px solid CanvasText; } }
`;
