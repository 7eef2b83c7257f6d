// What every part of the page shares: its elements by id, the error line, downloads, command lines and copying.

export const $ = (id) => document.getElementById(id);

export function showError(message) {
  const line = $("error");
  line.textContent = message;
  line.hidden = !message;
}

export function download(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

// A command line in its box, the box as tall as the line's wrapped text.
export function showCommand(textarea, button, text) {
  textarea.value = text;
  button.disabled = !text;
  textarea.style.height = "auto";
  textarea.style.height = `${textarea.scrollHeight + 4}px`;
}

export async function copyText(textarea, button) {
  const text = textarea.value;
  try {
    // The clipboard API needs a secure context (127.0.0.1 and localhost are); elsewhere select and copy.
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
    else {
      textarea.select();
      if (!document.execCommand("copy")) throw new Error("refused");
    }
    button.textContent = "Copied";
  } catch (err) {
    textarea.select();
    button.textContent = "Select and copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}
