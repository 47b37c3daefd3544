import { BadRequestException, Inject, Injectable, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';

/** The longest prompt the demo accepts, in characters. */
export const MAX_PROMPT_LENGTH = 4000;
/** The largest `max_tokens` a caller may ask for. */
export const MAX_TOKENS_CAP = 4096;
/** The thinking budget, in tokens, when thinking is on (the API's minimum); `max_tokens` must exceed it. */
export const THINKING_BUDGET = 1024;

/** What a client may send to `POST /api/chat`, once checked. */
export interface ChatRequest {
  /** The user's prompt, trimmed. */
  readonly prompt: string;
  /** One of the allowed models; the app's default when left out. */
  readonly model?: string;
  /** The cap on the answer's tokens. @defaultValue 2048 */
  readonly max_tokens: number;
  /** Whether Claude thinks before answering (shown in its own panel). @defaultValue true */
  readonly thinking: boolean;
}

function schemaFor(models: readonly [string, ...string[]]) {
  return z
    .strictObject({
      prompt: z
        .string({ error: (issue) => (issue.input === undefined ? 'prompt is required' : 'prompt must be a string') })
        .trim()
        .min(1, { error: 'prompt must not be empty' })
        .max(MAX_PROMPT_LENGTH, {
          error: (issue) =>
            `prompt is too long: at most ${MAX_PROMPT_LENGTH} characters, got ${String((issue.input as string).length)}`,
        }),
      model: z.enum(models, { error: `model must be one of: ${models.join(', ')}` }).optional(),
      max_tokens: z
        .number({ error: `max_tokens must be an integer from 1 to ${MAX_TOKENS_CAP}` })
        .int({ error: `max_tokens must be an integer from 1 to ${MAX_TOKENS_CAP}` })
        .min(1, { error: `max_tokens must be an integer from 1 to ${MAX_TOKENS_CAP}` })
        .max(MAX_TOKENS_CAP, { error: `max_tokens must be at most ${MAX_TOKENS_CAP}` })
        .default(2048),
      thinking: z.boolean({ error: 'thinking must be true or false' }).default(true),
    })
    .refine((body) => !body.thinking || body.max_tokens > THINKING_BUDGET, {
      error: `max_tokens must be more than ${THINKING_BUDGET} when thinking is on (or set thinking to false)`,
      path: ['max_tokens'],
    });
}

/** The first problem with a body, as one sentence a person can act on. */
function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'the request body is invalid';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unknown option${issue.keys.length > 1 ? 's' : ''} ${keys}; allowed: prompt, model, max_tokens, thinking`;
  }
  if (issue.path.length === 0) return 'the request body must be a JSON object such as {"prompt": "Hello"}';
  return issue.message;
}

/**
 * Checks the body of `POST /api/chat` (types, lengths, the `max_tokens` cap, the allowed models, no unknown option)
 * and answers `400 { statusCode, error, message }` with the first problem, before anything is sent to Claude.
 */
@Injectable()
export class ChatRequestPipe implements PipeTransform<unknown, ChatRequest> {
  private readonly schema: ReturnType<typeof schemaFor>;

  constructor(@Inject(CHAT_SETTINGS) settings: ChatSettings) {
    this.schema = schemaFor(settings.models);
  }

  transform(body: unknown): ChatRequest {
    const result = this.schema.safeParse(body);
    if (!result.success) throw new BadRequestException(describeIssue(result.error.issues[0]));
    return result.data;
  }
}
