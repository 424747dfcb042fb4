import { decidePayout, type PayoutObservation, type PayoutStatus } from './payout-state';

const seen = (status: PayoutStatus, reconciliationStatus: string | null = 'in_progress'): PayoutObservation => ({
  id: 'po_1',
  amount: 1000,
  currency: 'usd',
  arrivalDate: new Date(0),
  automatic: true,
  status,
  reconciliationStatus,
  balanceTransactionId: 'txn_po',
  failureCode: null,
  failureMessage: null,
  failureBalanceTransactionId: null,
});

describe('payout state', () => {
  it('makes a first paid observation due for reconciliation', () => {
    expect(decidePayout(undefined, seen('paid'))).toMatchObject({ status: 'paid', becamePaid: true, becameFailed: false });
  });

  it('lets a paid payout fail later, once', () => {
    const failed = decidePayout({ status: 'paid', reconciliationStatus: 'completed' }, seen('failed'));
    expect(failed).toMatchObject({ status: 'failed', becameFailed: true, becamePaid: false, reconciliationStatus: 'completed' });
    expect(decidePayout({ status: 'failed', reconciliationStatus: 'completed' }, seen('failed', 'completed'))).toBeUndefined();
  });

  it('does not let a late paid event undo a failure or a cancellation', () => {
    expect(decidePayout({ status: 'failed', reconciliationStatus: null }, seen('paid', null))).toBeUndefined();
    expect(decidePayout({ status: 'canceled', reconciliationStatus: null }, seen('in_transit', null))).toBeUndefined();
  });

  it('records that Stripe attributed the transactions, and never forgets it', () => {
    expect(decidePayout({ status: 'paid', reconciliationStatus: 'in_progress' }, seen('paid', 'completed'))).toMatchObject({
      status: 'paid',
      reconciliationStatus: 'completed',
      becamePaid: false,
    });
    expect(decidePayout({ status: 'paid', reconciliationStatus: 'completed' }, seen('paid', 'in_progress'))).toBeUndefined();
  });

  it('sees a cancellation before the payout left', () => {
    expect(decidePayout({ status: 'pending', reconciliationStatus: null }, seen('canceled', null))).toMatchObject({ becameCanceled: true });
  });
});
