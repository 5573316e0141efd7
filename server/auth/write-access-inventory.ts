/**
 * `bun run inventory`: writes docs/security/ACCESS_INVENTORY.md from the code. Needs no running
 * services: the inventory only reads the router and the REST route table.
 */
import { writeFileSync } from 'node:fs';
import type { Deps } from '../deps.ts';
import { accessInventory, inventoryMarkdown } from './access-inventory.ts';

export const inventoryPath = new URL('../../docs/security/ACCESS_INVENTORY.md', import.meta.url).pathname;

if (import.meta.main) {
  writeFileSync(inventoryPath, inventoryMarkdown(accessInventory({} as Deps)));
  console.log(`wrote ${inventoryPath}`);
}
