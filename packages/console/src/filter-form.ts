import { h, isoOf } from './dom.js';

export type FilterField = HTMLInputElement | HTMLSelectElement;

/** A select of `values` after an empty first option, `any`. */
export function choice(name: string, values: readonly string[]): HTMLSelectElement {
  return h(
    'select',
    { name },
    h('option', { value: '' }, 'any'),
    ...values.map((v) => h('option', { value: v }, v)),
  );
}

/**
 * A list page's filters, kept in the page's address (`#/<page>?name=value…`) so that a filtered view can be
 * bookmarked and reloaded: each field (named by its `name`) is filled from `params`; Filter puts the
 * non-empty values in the address (which routes), with the `keep` parameters as they were; Clear empties it.
 */
export function filterForm(options: {
  id: string;
  page: string;
  fields: ReadonlyArray<readonly [label: string, field: FilterField]>;
  params: URLSearchParams;
  keep?: readonly string[];
}): HTMLFormElement {
  const { page, fields, params } = options;
  for (const [, field] of fields) field.value = params.get(field.name) ?? '';
  const form = h(
    'form',
    { class: 'filters', id: options.id },
    ...fields.map(([label, field]) => h('label', {}, label, field)),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    h('button', { type: 'button', onclick: () => (location.hash = `#/${page}`) }, 'Clear'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [, field] of fields) if (field.value !== '') next.set(field.name, field.value);
    for (const name of options.keep ?? []) {
      const value = params.get(name);
      if (value !== null) next.set(name, value);
    }
    location.hash = `#/${page}${next.size > 0 ? `?${next.toString()}` : ''}`;
  });
  return form;
}

/** The API query of a list page: `size`, and the filters of its address (`from`/`to` as ISO-8601). */
export function filterQuery(
  params: URLSearchParams,
  names: readonly string[],
  size: string,
): URLSearchParams {
  const query = new URLSearchParams({ size });
  for (const name of names) {
    const v = params.get(name);
    if (v === null || v === '') continue;
    query.set(name, name === 'from' || name === 'to' ? (isoOf(v) ?? v) : v);
  }
  return query;
}
