/** A few lines of DOM building instead of a framework: pages render by replacing their own subtree. */
export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: any) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'class') el.className = String(value);
    else if (key === 'value' || key === 'checked' || key === 'selected') (el as any)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
export const uid = (prefix: string): string => `${prefix}-${++ids}`;

/** A labelled form field: the label is visible and tied to its control. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  control.id ||= uid('f');
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export function checkbox(label: string, attrs: Attrs = {}): { root: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', ...attrs });
  return { root: h('label', { class: 'check' }, input, ' ', label), input };
}

export function select(name: string, options: Array<string | [string, string]>, value?: string, attrs: Attrs = {}): HTMLSelectElement {
  return h(
    'select',
    { name, ...attrs },
    options.map((o) => {
      const [v, text] = typeof o === 'string' ? [o, o] : o;
      return h('option', { value: v, selected: v === value }, text);
    }),
  );
}

/**
 * A refusal from the API, shown as the API words it right after the control that caused it
 * (replacing an earlier one there), and announced to screen readers.
 */
export function showRefusal(control: Element, message: string): HTMLElement {
  clearRefusal(control);
  const note = h('span', { class: 'refusal', role: 'alert' }, message);
  control.insertAdjacentElement('afterend', note);
  return note;
}

export function clearRefusal(control: Element): void {
  const next = control.nextElementSibling;
  if (next?.classList.contains('refusal')) next.remove();
}

/**
 * A modal dialog on the native <dialog>: the browser keeps focus inside it and closes it
 * with Escape; focus goes back to what opened it.
 */
export function openDialog(title: string, build: (close: () => void) => Child, opts: { wide?: boolean } = {}): HTMLDialogElement {
  const opener = document.activeElement as HTMLElement | null;
  const titleId = uid('dlg');
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: opts.wide ? 'wide' : null });
  const close = () => dialog.close();
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener?.focus();
  });
  append(dialog, [
    h('header', null, h('h2', { id: titleId }, title), h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: close }, '×')),
    build(close),
  ]);
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector<HTMLElement>('input:not([type=hidden]), select, textarea, button:not(.icon)');
  first?.focus();
  return dialog;
}

/** The values of a form's named controls, checkboxes as booleans. */
export function formValues(form: HTMLFormElement): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const el of Array.from(form.elements)) {
    const control = el as HTMLInputElement;
    if (!control.name) continue;
    out[control.name] = control.type === 'checkbox' ? control.checked : control.value;
  }
  return out;
}

/** Puts saved values back into a form's named controls (never passwords). */
export function fillForm(form: HTMLFormElement, values: Record<string, string | boolean>): void {
  for (const el of Array.from(form.elements)) {
    const control = el as HTMLInputElement;
    const value = values[control.name];
    if (!control.name || value === undefined || control.type === 'password') continue;
    if (control.type === 'checkbox') control.checked = value === true;
    else control.value = String(value);
  }
}

/** Disables a form's buttons while a request is out, so a double click sends one. */
export async function busy<T>(form: HTMLElement, work: () => Promise<T>): Promise<T> {
  const buttons = Array.from(form.querySelectorAll('button'));
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute('aria-busy');
  }
}

/** A table in a box that scrolls sideways on narrow screens: focusable, so the keyboard scrolls it too. */
export function tableBox(label: string, table: HTMLTableElement): HTMLElement {
  return h('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': label }, table);
}
