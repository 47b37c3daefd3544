import Anthropic from '@anthropic-ai/sdk';
import { of } from 'rxjs';
describe('smoke', () => {
  it('loads', () => {
    expect(typeof Anthropic).toBe('function');
    expect(of(1)).toBeDefined();
  });
});
