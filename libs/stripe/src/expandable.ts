/** The id of a field Stripe sends either as an id or, when expanded, as the object itself. */
export function idOf(v: string | { id: string } | null | undefined): string | null {
  return v == null ? null : typeof v === 'string' ? v : v.id;
}
