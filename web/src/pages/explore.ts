import { errorMessage, isAbortError, runInstantQuery, type QueryData } from '../api';
import { errorBox, h, loading, pageHeader, replaceChildren } from '../dom';
import type { Page } from '../page';

/** "vector, 3 series" or "scalar: 42" summary of a query result. */
export function describeResult(data: QueryData): string {
  if (!Array.isArray(data.result)) return data.resultType;
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    return `${data.resultType}: ${String(data.result[1])}`;
  }
  return `${data.resultType}, ${data.result.length} series`;
}

export const explorePage: Page = {
  title: 'Explore',
  render(root, context) {
    const initialQuery = context.url.searchParams.get('query') ?? '';
    const input = h('input', {
      type: 'text',
      name: 'query',
      class: 'query-input',
      placeholder: 'PromQL expression, e.g. up',
      'aria-label': 'Query',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    input.value = initialQuery;
    const result = h('div', { class: 'query-result', 'data-testid': 'query-result' });
    let running: AbortController | undefined;

    const run = async (): Promise<void> => {
      const query = input.value.trim();
      if (query === '') return;
      const url = new URL(location.href);
      url.searchParams.set('query', query);
      history.replaceState(null, '', url.pathname + url.search + url.hash);

      running?.abort();
      const controller = new AbortController();
      running = controller;
      context.signal.addEventListener('abort', () => controller.abort(), { once: true });

      replaceChildren(result, loading('Running query…'));
      try {
        const envelope = await runInstantQuery(query, { signal: controller.signal });
        replaceChildren(
          result,
          h('p', { class: 'result-meta' }, describeResult(envelope.data)),
          envelope.warnings.map((warning) => h('div', { class: 'notice notice-warn' }, h('p', null, warning))),
          h('pre', { class: 'code' }, JSON.stringify(envelope.data, null, 2)),
        );
      } catch (error) {
        if (isAbortError(error)) return;
        replaceChildren(result, errorBox('Query failed', errorMessage(error)));
      }
    };

    const form = h(
      'form',
      {
        class: 'query-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void run();
        },
      },
      input,
      h('button', { type: 'submit', class: 'button button-primary' }, 'Run'),
    );

    replaceChildren(
      root,
      pageHeader('Explore', 'Run ad-hoc PromQL queries against the metrics store; LogQL and graphs will follow.'),
      h('section', { class: 'card' }, form, result),
    );
    input.focus();
    if (initialQuery !== '') void run();
  },
};
