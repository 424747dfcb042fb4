/** A priced line: the unit price always comes from our catalog, never from the client. */
export interface PricedLine {
  sku: string;
  name: string;
  quantity: number;
  unitAmount: number;
  lineTotal: number;
}

export interface CatalogPrice {
  sku: string;
  name: string;
  unitAmount: number;
}

export type PricingResult =
  | { ok: true; lines: PricedLine[]; total: number }
  | { ok: false; unknownSkus: string[] };

/**
 * Merges repeated SKUs (one line per SKU, quantities added), prices each line from `prices` and sums the total.
 * Lines come out sorted by SKU: stock rows are then always locked in the same order, so two concurrent checkouts
 * of the same SKUs cannot deadlock.
 */
export function priceLines(
  requested: { sku: string; quantity: number }[],
  prices: Map<string, CatalogPrice>,
): PricingResult {
  const merged = new Map<string, number>();
  for (const l of requested) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.quantity);
  const unknownSkus = [...merged.keys()].filter((s) => !prices.has(s));
  if (unknownSkus.length > 0) return { ok: false, unknownSkus };
  const lines = [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => {
      const p = prices.get(sku) as CatalogPrice;
      return { sku, name: p.name, quantity, unitAmount: p.unitAmount, lineTotal: p.unitAmount * quantity };
    });
  const total = lines.reduce((sum, l) => sum + l.lineTotal, 0);
  return { ok: true, lines, total };
}
