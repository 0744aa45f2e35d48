/**
 * The violations one `verify()` collects: every check reports into it; it keeps the first
 * {@link verifyViolationsMax} and says when it cut the rest.
 */

import { verifyViolationsMax } from '../../limits.js';
import type { VerifyViolation } from '../../types.js';

/** Reports one violation (see {@link ViolationLog.report}). */
export type Report = (rule: string, subjectId: string, message: string, details?: Record<string, string>) => void;

/** The violations of one run. */
export class ViolationLog {
  readonly #violations: VerifyViolation[] = [];
  #truncated = false;

  /** Records a violation, or notes that the report was cut once {@link verifyViolationsMax} are listed. */
  readonly report: Report = (rule, subjectId, message, details) => {
    if (this.#violations.length >= verifyViolationsMax) {
      this.#truncated = true;
      return;
    }
    this.#violations.push(details === undefined ? { rule, subjectId, message } : { rule, subjectId, message, details });
  };

  /** The violations, with a closing `report_truncated` when some were not listed. */
  violations(): VerifyViolation[] {
    if (!this.#truncated) return [...this.#violations];
    return [
      ...this.#violations,
      {
        rule: 'report_truncated',
        subjectId: '*',
        message: `more than ${verifyViolationsMax} violations; the rest were not listed`,
      },
    ];
  }
}
