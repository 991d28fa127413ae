import { PassThrough } from 'node:stream';
import { createLogger, redactUrl } from '../src/logging';

describe('logging', () => {
  it('writes JSON with child bindings and redacts secrets at any depth', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const log = createLogger({ level: 'info', stream }).child({ component: 'api' }).child({ requestId: 7 });
    log.info('login failed for https://admin:pw@example.test/x', {
      password: 'hunter2',
      headers: { authorization: 'Basic abc', host: 'h' },
    });
    log.debug('hidden at info level');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', component: 'api', requestId: 7, password: '[redacted]' });
    expect(entry.headers).toEqual({ authorization: '[redacted]', host: 'h' });
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain(':pw@');
  });

  it('writes every level at or above the configured one, from children too, and none below', async () => {
    const written = async (level: 'warn' | 'debug'): Promise<string[]> => {
      const stream = new PassThrough();
      const levels: string[] = [];
      stream.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().trim().split('\n'))
          levels.push((JSON.parse(line) as { level: string }).level);
      });
      const log = createLogger({ level, stream }).child({ component: 'core' });
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      await new Promise((r) => setImmediate(r));
      return levels;
    };
    expect(await written('warn')).toEqual(['warn', 'error']);
    expect(await written('debug')).toEqual(['debug', 'info', 'warn', 'error']);
  });

  it('strips credentials from URLs', () => {
    expect(redactUrl('https://u:p@host:9200/path')).toBe('https://***@host:9200/path');
    expect(redactUrl('http://host')).toBe('http://host');
  });
});
