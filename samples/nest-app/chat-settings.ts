/** How the demo calls Claude; provided by `DemoAppModule.forRoot()`. */
export interface ChatSettings {
  /** The model when a request names none. */
  readonly model: string;
  /** The models a request may name (the default one first). */
  readonly models: readonly [string, ...string[]];
  /** Where the page's answers come from, for the page's header. */
  readonly mode: 'fake' | 'api';
}

/** The injection token of {@link ChatSettings}. */
export const CHAT_SETTINGS = Symbol('CHAT_SETTINGS');
