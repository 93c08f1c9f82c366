import test from 'ava';
import { RateLimiter, rateLimitKey } from '../../../src/wg/ratelimiter.js';

test('a source gets a burst of 5, then is refused', (t) => {
  const limiter = new RateLimiter();
  for (let i = 0; i < 5; i++) t.true(limiter.allow('a', 1000), `packet ${i + 1}`);
  t.false(limiter.allow('a', 1000));
  t.true(limiter.allow('b', 1000), 'other sources are independent');
});

test('tokens refill at 20 per second (one per 50 ms)', (t) => {
  const limiter = new RateLimiter();
  for (let i = 0; i < 5; i++) limiter.allow('a', 0);
  t.false(limiter.allow('a', 49));
  t.true(limiter.allow('a', 50));
  t.false(limiter.allow('a', 50));
  // sustained: over 10 s at 100 attempts per second, about 20 per second get through
  let allowed = 0;
  for (let ms = 100; ms < 10_100; ms += 10) if (limiter.allow('a', ms)) allowed++;
  t.true(allowed >= 199 && allowed <= 201, `allowed ${allowed}`);
});

test('the burst never exceeds 5 however long a source was idle', (t) => {
  const limiter = new RateLimiter();
  limiter.allow('a', 0);
  let allowed = 0;
  for (let i = 0; i < 10; i++) if (limiter.allow('a', 500)) allowed++;
  t.is(allowed, 5);
});

test('idle sources are collected after a second, bounding memory', (t) => {
  const limiter = new RateLimiter();
  for (let i = 0; i < 1000; i++) limiter.allow(`s${i}`, 0);
  t.is(limiter.size, 1000);
  limiter.allow('fresh', 1001);
  t.is(limiter.size, 1, 'only the fresh source remains');
});

test('when the table is full of active sources a new source is refused', (t) => {
  const limiter = new RateLimiter(3);
  t.true(limiter.allow('a', 0));
  t.true(limiter.allow('b', 0));
  t.true(limiter.allow('c', 0));
  t.false(limiter.allow('d', 0));
  t.true(limiter.allow('a', 0), 'known sources keep their budget');
  t.true(limiter.allow('d', 1500), 'after collection there is room again');
});

test('IPv4 sources are limited per address and IPv6 sources per /64', (t) => {
  t.is(rateLimitKey({ address: '192.0.2.1', port: 1 }), rateLimitKey({ address: '192.0.2.1', port: 2 }));
  t.not(rateLimitKey({ address: '192.0.2.1', port: 1 }), rateLimitKey({ address: '192.0.2.2', port: 1 }));
  t.is(
    rateLimitKey({ address: '2001:db8:1:2::1', port: 1 }),
    rateLimitKey({ address: '2001:db8:1:2:ffff::9', port: 1 }),
  );
  t.not(rateLimitKey({ address: '2001:db8:1:2::1', port: 1 }), rateLimitKey({ address: '2001:db8:1:3::1', port: 1 }));
  t.is(rateLimitKey({ address: 'not-an-ip', port: 1 }), null);
});
