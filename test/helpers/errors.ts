/** Assertions about the errors the unit under test throws. */
import { expect } from 'chai';
import { ChattyError } from '../../src/errors.js';

/** Calls `fn` and returns the ChattyError it throws (fails if it returns or throws anything else). */
export function thrown(fn: () => unknown): ChattyError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ChattyError);
    return error as ChattyError;
  }
  expect.fail('expected a ChattyError');
}
