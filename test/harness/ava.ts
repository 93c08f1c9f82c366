// The ava adaptor: a world whose teardown is registered with the test, so it
// runs whether the test passes, fails or throws. Only this file knows ava.
import type { ExecutionContext } from 'ava';
import { World, type WorldOptions } from './world.js';

export async function worldFor(t: ExecutionContext, opts: WorldOptions = {}): Promise<World> {
  const world = await World.create(opts);
  t.teardown(() => world.teardown());
  return world;
}
