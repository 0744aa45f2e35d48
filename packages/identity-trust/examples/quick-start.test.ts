import { describe, expect, it } from 'vitest';
import { quickStart } from './quick-start.js';

describe('examples/quick-start.ts', () => {
  it('runs and shows what the README says', async () => {
    const result = await quickStart();
    expect(result).toEqual({
      proofAddress: result.ownerAddress,
      replayCode: 'nonce_reused',
      allowedBefore: false,
      allowedAfter: true,
      boundAnchor: true,
      selfApprovalRefused: true,
      epochAfterRotation: 2,
      tokenEpoch: 2,
      auditActions: ['anchor_bound', 'rotation_requested', 'rotation_approved'],
      ownerAddress: result.ownerAddress,
    });
  });
});
