import Stripe from 'stripe';
import { startTestEnv, stripeError, TestEnv, waitFor, WebhookReceiver } from '../test-utils';

let env: TestEnv;
let hook: WebhookReceiver;
beforeAll(async () => {
  env = await startTestEnv();
  hook = await new WebhookReceiver().start();
});
afterAll(async () => {
  await env.emu.close();
  await hook.close();
});
beforeEach(async () => {
  env.emu.reset();
  hook.received.length = 0;
  await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: [
      'charge.dispute.created',
      'charge.dispute.updated',
      'charge.dispute.closed',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.funds_reinstated',
    ],
   });
});

async function disputed(amount: number): Promise<Stripe.Dispute> {
  const pi = await env.stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true });
  const evt = await waitFor(() => hook.events().find((e) => e.type === 'charge.dispute.created'), 3000, 'dispute created');
  const dispute = evt.data.object as Stripe.Dispute;
  expect(dispute.payment_intent).toBe(pi.id);
  return dispute;
}

describe('disputes', () => {
  it('winning evidence closes the dispute as won and gives the amount back (not the fee)', async () => {
    const dispute = await disputed(4000);
    const updated = await env.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' }, metadata: { case: 'c1' } });
    expect(updated.status).toBe('won');
    expect(updated.metadata).toEqual({ case: 'c1' });
    expect(updated.balance_transactions.map((t) => [t.amount, t.fee, t.reporting_category])).toEqual([
      [-4000, 1500, 'dispute'],
      [4000, 0, 'dispute_reversal'],
    ]);
    await waitFor(() => hook.types().includes('charge.dispute.funds_reinstated'), 3000, 'funds reinstated');
    expect(hook.types().filter((t) => t !== 'charge.dispute.created' && t !== 'charge.dispute.funds_withdrawn')).toEqual([
      'charge.dispute.updated',
      'charge.dispute.closed',
      'charge.dispute.funds_reinstated',
    ]);
    const closed = hook.events().find((e) => e.type === 'charge.dispute.closed')!;
    expect((closed.data.object as Stripe.Dispute).status).toBe('won');
    expect(closed.data.previous_attributes).toEqual({ status: 'under_review' });
  });

  it('losing evidence or accepting (close) ends it lost, with the money kept by the customer', async () => {
    const a = await disputed(1000);
    expect((await env.stripe.disputes.update(a.id, { evidence: { uncategorized_text: 'losing_evidence' } })).status).toBe('lost');
    hook.received.length = 0;
    const b = await disputed(2000);
    const accepted = await env.stripe.disputes.close(b.id);
    expect(accepted.status).toBe('lost');
    expect(accepted.balance_transactions).toHaveLength(1);
    await waitFor(() => hook.types().includes('charge.dispute.closed'), 3000, 'dispute closed');
    expect(hook.types()).not.toContain('charge.dispute.funds_reinstated');
  });

  it('stages evidence without submitting, and refuses to change a closed dispute', async () => {
    const dispute = await disputed(1500);
    const staged = await env.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' }, submit: false });
    expect(staged.status).toBe('needs_response');
    expect(staged.evidence_details.has_evidence).toBe(true);
    const won = await env.stripe.disputes.update(dispute.id, { submit: true });
    expect(won.status).toBe('won');
    expect(won.evidence_details.submission_count).toBe(1);
    const err = await stripeError(env.stripe.disputes.close(dispute.id));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('already closed');
  });
});
