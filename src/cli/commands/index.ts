import type { Command } from '../command.js';

/** Every `ota` command. Each lives in its own file beside this one; add new ones to this list. */
export const commands: Command[] = [
];
