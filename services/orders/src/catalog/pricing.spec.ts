import { priceLines, type CatalogPrice } from './pricing';

const prices = new Map<string, CatalogPrice>([
  ['MUG', { sku: 'MUG', name: 'Mug', unitAmount: 1250 }],
  ['CAP', { sku: 'CAP', name: 'Cap', unitAmount: 1999 }],
]);

describe('server-side pricing', () => {
  it('prices every line from the catalog and sums the total in minor units', () => {
    const r = priceLines(
      [
        { sku: 'MUG', quantity: 2 },
        { sku: 'CAP', quantity: 1 },
      ],
      prices,
    );
    expect(r).toEqual({
      ok: true,
      total: 4499,
      lines: [
        { sku: 'CAP', name: 'Cap', quantity: 1, unitAmount: 1999, lineTotal: 1999 },
        { sku: 'MUG', name: 'Mug', quantity: 2, unitAmount: 1250, lineTotal: 2500 },
      ],
    });
  });

  it('merges repeated SKUs into one line', () => {
    const r = priceLines(
      [
        { sku: 'MUG', quantity: 1 },
        { sku: 'MUG', quantity: 3 },
      ],
      prices,
    );
    expect(r.ok && r.lines).toEqual([
      { sku: 'MUG', name: 'Mug', quantity: 4, unitAmount: 1250, lineTotal: 5000 },
    ]);
  });

  it('names every SKU it does not know', () => {
    expect(
      priceLines(
        [
          { sku: 'NOPE', quantity: 1 },
          { sku: 'MUG', quantity: 1 },
          { sku: 'GONE', quantity: 1 },
        ],
        prices,
      ),
    ).toEqual({
      ok: false,
      unknownSkus: ['NOPE', 'GONE'],
    });
  });
});
