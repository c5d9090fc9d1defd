/**
 * One timer for a connection's successive waits (wait-deadline.ts), on mocked timers: each wait
 * ends at its own deadline, neither sooner (a timer kept from an earlier wait that fires first is
 * set again) nor later (a wait with an earlier deadline gets a timer of its own); a wait that
 * ended, or a closed connection, is never expired.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { WaitDeadline } from './wait-deadline.js';

void test('each wait ends at its own deadline, whatever timer the waits before it left', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    let expired = 0;
    const d = new WaitDeadline(() => expired++);
    // one wait
    d.start(Date.now() + 100);
    mock.timers.tick(99);
    assert.equal(expired, 0);
    mock.timers.tick(1);
    assert.equal(expired, 1, 'at its deadline');
    // a wait ends early, the next has a later deadline: the kept timer fires first and is set again
    d.start(Date.now() + 100);
    mock.timers.tick(50);
    d.stop();
    d.start(Date.now() + 300);
    mock.timers.tick(299);
    assert.equal(expired, 1, 'not at the earlier wait\'s deadline');
    mock.timers.tick(1);
    assert.equal(expired, 2, 'at its own');
    // a wait with an earlier deadline than the timer kept: not later than its own
    d.start(Date.now() + 1_000);
    mock.timers.tick(10);
    d.stop();
    d.start(Date.now() + 100);
    mock.timers.tick(100);
    assert.equal(expired, 3);
    // nobody waits when the timer fires: nothing expires, the next wait still ends on time
    d.start(Date.now() + 100);
    d.stop();
    mock.timers.tick(500);
    assert.equal(expired, 3);
    d.start(Date.now() + 50);
    mock.timers.tick(50);
    assert.equal(expired, 4);
    // closed: nothing more
    d.start(Date.now() + 100);
    d.close();
    mock.timers.tick(1_000);
    assert.equal(expired, 4);
  } finally {
    mock.timers.reset();
  }
});
