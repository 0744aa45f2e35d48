import { FourEyesViolationError } from '../errors.js';

/** What {@link assertFourEyes} checks: the step, who acts, who created the current anchor, who requested. */
export type FourEyesCheck =
  | { step: 'request'; actor: string; anchorCreator: string }
  | { step: 'approve'; actor: string; anchorCreator: string; requester: string };

/**
 * The four-eyes rules of an anchor rotation: the requester did not create the current anchor; the approver is
 * neither the requester nor the anchor's creator. Actors are compared exactly (they are token subjects).
 *
 * @throws {FourEyesViolationError} `four_eyes_violation` naming the rule broken.
 * @example
 * assertFourEyes({ step: 'approve', actor: 'bob', anchorCreator: 'carol', requester: 'alice' }); // ok
 */
export function assertFourEyes(check: FourEyesCheck): void {
  if (check.step === 'request') {
    if (check.actor === check.anchorCreator) throw new FourEyesViolationError('requester_is_creator', check.actor);
    return;
  }
  if (check.actor === check.requester) throw new FourEyesViolationError('approver_is_requester', check.actor);
  if (check.actor === check.anchorCreator) throw new FourEyesViolationError('approver_is_creator', check.actor);
}
