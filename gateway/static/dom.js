// Small DOM helpers every page uses, defined once.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new element with text and attributes (text is always set as text, never as HTML). */
export function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
