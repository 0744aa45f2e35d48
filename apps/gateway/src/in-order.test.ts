import { describe, expect, it } from 'vitest';
import { inOrder } from './in-order.js';

const later = <T>(ms: number, outcome: () => T) =>
  new Promise<T>((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(outcome());
      } catch (error) {
        reject(error);
      }
    }, ms),
  );

describe('inOrder', () => {
  it('answers both values', async () => {
    expect(
      await inOrder(
        later(5, () => 1),
        Promise.resolve('b'),
      ),
    ).toEqual([1, 'b']);
  });

  it("rejects with the first one's error even when the second failed sooner", async () => {
    const first = later(20, () => {
      throw new Error('account');
    });
    const second = later(1, () => {
      throw new Error('meter');
    });
    await expect(inOrder(first, second)).rejects.toThrow('account');
  });

  it("rejects with the second one's error when only it failed, after the first settled", async () => {
    let firstDone = false;
    const first = later(15, () => {
      firstDone = true;
      return 1;
    });
    await expect(
      inOrder(
        first,
        later(1, () => {
          throw new Error('meter');
        }),
      ),
    ).rejects.toThrow('meter');
    expect(firstDone).toBe(true);
  });
});
