/** What an account's event stream says of a block: only that account's bills, payments and record. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateKind } from '../../../protocols/index.js';
import { accountEvent } from '../../../gateway/http/routes/account-events.js';

test('an account event names the account\'s bills, payments and balance in the block, and nothing of others', () => {
  const changes = [
    { kind: StateKind.Bill, id: 'm-1/cycle-2', value: { account: 'a-1', total: 5n } },
    { kind: StateKind.Bill, id: 'm-2/cycle-2', value: { account: 'a-2', total: 7n } },
    { kind: StateKind.Payment, id: 'm-1/cycle-1', value: { account: 'a-1', amount: 4n } },
    { kind: StateKind.Payment, id: 'm-2/cycle-1', value: { account: 'a-2', amount: 4n } },
    { kind: StateKind.Account, id: 'a-1', value: { balance: 10n } },
    { kind: StateKind.Account, id: 'a-2', value: { balance: 10n } },
  ];
  assert.deepEqual(accountEvent('a-1', 9, changes), { account: 'a-1', height: 9, bills: ['m-1/cycle-2'], payments: ['m-1/cycle-1'], balance: true });
  assert.deepEqual(accountEvent('a-2', 9, changes.slice(0, 2)), { account: 'a-2', height: 9, bills: ['m-2/cycle-2'], payments: [], balance: false });
  const disputed = accountEvent('a-1', 10, [{ kind: StateKind.Dispute, id: 'm-1/cycle-1', value: { account: 'a-1', status: 'open' } }]);
  assert.deepEqual(disputed?.bills, ['m-1/cycle-1'], 'a dispute of the account\'s bill is an event of it');
  assert.equal(accountEvent('a-3', 9, changes), undefined, 'a block that changes nothing of the account sends nothing');
});
