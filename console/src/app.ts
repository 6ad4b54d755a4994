import { h, replace, type Child } from './dom.js';
import type { ConsoleConfig } from './types.js';

/** What a page is given: where to draw, the route's parameters, and the instance's catalog. */
export interface PageContext {
  root: HTMLElement;
  params: URLSearchParams;
  config: ConsoleConfig;
}

export type Page = (ctx: PageContext) => Promise<void>;

let drafts: Record<string, Record<string, string | boolean>> = {};

export function setDrafts(values: Record<string, Record<string, string | boolean>>): void {
  drafts = values;
}

/** A form's values saved when the session ended, handed back once to the form that had them. */
export function takeDraft(id: string): Record<string, string | boolean> | undefined {
  const draft = drafts[id];
  delete drafts[id];
  return draft;
}

/** Whether a saved form waits for the dialog that had it. */
export const hasDraft = (id: string): boolean => id in drafts;

/** The values of every form marked data-draft, passwords left out, to survive a sign-in. */
export function collectDrafts(): Record<string, Record<string, string | boolean>> {
  const out: Record<string, Record<string, string | boolean>> = {};
  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>('form[data-draft]'))) {
    const values: Record<string, string | boolean> = {};
    for (const el of Array.from(form.elements)) {
      const control = el as HTMLInputElement;
      if (!control.name || control.type === 'password') continue;
      values[control.name] = control.type === 'checkbox' ? control.checked : control.value;
    }
    out[form.dataset.draft!] = values;
  }
  return out;
}

/** A route's hash: "#/users?q=ada". */
export function routeHash(page: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString();
  return `#/${page}${query ? `?${query}` : ''}`;
}

/** Updates the route's parameters without drawing the page again (filters typed into a page). */
export function replaceParams(page: string, params: Record<string, string | undefined>): void {
  history.replaceState(null, '', routeHash(page, params));
}

/** A page's heading and lead, focused on arrival so screen readers announce the page. */
export function pageHeader(title: string, lead?: Child, actions?: Child): HTMLElement {
  const h1 = h('h1', { tabindex: '-1' }, title);
  return h('div', { class: 'page-head' }, h('div', null, h1, lead ? h('p', { class: 'lead' }, lead) : null), actions ? h('div', { class: 'actions' }, actions) : null);
}

/** A notice for errors that belong to no one control (loading a page). */
export function notice(root: HTMLElement, message: string, kind: 'error' | 'info' = 'error'): void {
  replace(root, h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message));
}

let redraw: () => void = () => {};

/** Registers how the current page is drawn again (main's router). */
export function onRedraw(fn: () => void): void {
  redraw = fn;
}

/** Draws the current route again, with the data as it now is. */
export const redrawPage = (): void => redraw();
