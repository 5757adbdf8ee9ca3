/** Where the local stack keeps its tools, caches and state. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TOOLS_DIR = process.env['TOKENWATCH_TOOLS_DIR'] ?? `${REPO_ROOT}.tools`;
export const STATE_DIR = process.env['TOKENWATCH_STATE_DIR'] ?? `${REPO_ROOT}.state`;
export const STACK_ENV_FILE = `${STATE_DIR}/stack.env`;
