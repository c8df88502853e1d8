// Streamlit's component protocol (postMessage with the page that holds this frame), the few messages the viewer
// needs: ready, render (the arguments, the theme) and the frame's height.
const send = (type, data = {}) => window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");

// The page's theme (light or dark, its colours) as CSS variables of the frame.
function applyTheme(theme) {
  if (!theme) return;
  const root = document.documentElement.style;
  root.setProperty("--text", theme.textColor);
  root.setProperty("--background", theme.backgroundColor);
  root.setProperty("--panel", theme.secondaryBackgroundColor);
  root.setProperty("--accent", theme.primaryColor);
  document.documentElement.style.colorScheme = theme.base === "dark" ? "dark" : "light";
}

export function connect(onRender) {
  window.addEventListener("message", (event) => {
    if (event.data?.type !== "streamlit:render") return;
    applyTheme(event.data.theme);
    onRender(event.data.args);
  });
  send("streamlit:componentReady", { apiVersion: 1 });
}

export function setFrameHeight() {
  send("streamlit:setFrameHeight", { height: Math.ceil(document.documentElement.scrollHeight) });
}
