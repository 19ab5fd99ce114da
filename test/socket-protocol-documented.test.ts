/**
 * The socket protocol's document (issue 29): every event of the typed maps has its section in
 * docs/socket-protocol.md, and the document describes no event the maps lack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CLIENT_EVENTS, SERVER_EVENTS } from '../src/realtime/protocol.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'socket-protocol.md');

/** The events a part of the document has a `### \`name\`` section for. */
function sectionsOf(markdown: string, part: string): string[] {
  const start = markdown.indexOf(`\n## ${part}\n`);
  expect(start, `docs/socket-protocol.md has a "## ${part}" part`).to.be.above(-1);
  const end = markdown.indexOf('\n## ', start + 1);
  return [...markdown.slice(start, end < 0 ? undefined : end).matchAll(/^### `([^`]+)`$/gm)].map((m) => m[1]!);
}

describe('the socket protocol is documented (issue 29)', () => {
  const markdown = fs.readFileSync(DOC, 'utf8');

  it('describes every client event of ClientToServerEvents, and no other', () => {
    expect(sectionsOf(markdown, 'Events the client sends')).to.deep.equal([...CLIENT_EVENTS]);
  });

  it('describes every event of ChattyServerEvents, and no other (notifications have a section of their own)', () => {
    expect(sectionsOf(markdown, 'Events the server sends')).to.deep.equal([...SERVER_EVENTS]);
    expect(markdown).to.include('### Notifications');
  });
});
