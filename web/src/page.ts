// What the app frame hands to a page when it renders it.

export interface PageContext {
  /** Aborted when the user navigates away: pass it to every request. */
  signal: AbortSignal;
  /** The current location. */
  url: URL;
}

export interface Page {
  /** Shown in the nav and the document title. */
  title: string;
  render(root: HTMLElement, context: PageContext): void;
}
