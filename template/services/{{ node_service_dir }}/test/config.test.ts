import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.HOST, '0.0.0.0');
    assert.equal(config.PORT, 3000);
    assert.equal(config.LOG_LEVEL, 'info');
    assert.deepEqual(config.CORS_ORIGINS, []);
  });

  it('takes the Python names for log levels too, so one LOG_LEVEL suits both', () => {
    assert.equal(loadConfig({ LOG_LEVEL: 'warning' }).LOG_LEVEL, 'warn');
    assert.equal(loadConfig({ LOG_LEVEL: 'CRITICAL' }).LOG_LEVEL, 'fatal');
    assert.equal(loadConfig({ LOG_LEVEL: 'Debug' }).LOG_LEVEL, 'debug');
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ PORT: '' }).PORT, 3000);
  });

  it('splits CORS_ORIGINS on commas', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://app.example, http://localhost:5173' });
    assert.deepEqual(config.CORS_ORIGINS, ['https://app.example', 'http://localhost:5173']);
  });

  it('refuses an origin with a path, which no browser would send', () => {
    for (const origin of [
      'https://app.example/',
      'https://app.example/app',
      'https://a.example?x',
    ]) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: origin }), /CORS_ORIGINS/, origin);
    }
  });

  it('reads TRUST_PROXY as addresses and CIDR ranges, and refuses anything else', () => {
    const config = loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, ::1, fd00::/8' });
    assert.deepEqual(config.TRUST_PROXY, ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
    assert.deepEqual(loadConfig({}).TRUST_PROXY, []);
    for (const value of ['true', '*', 'ingress.local', '10.0.0.0/33', '300.1.1.1']) {
      assert.throws(() => loadConfig({ TRUST_PROXY: value }), /TRUST_PROXY/, value);
    }
  });

  it('refuses bad values with a message naming each variable', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', CORS_ORIGINS: 'not a url' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /PORT/.test(error.message) &&
        /LOG_LEVEL/.test(error.message) &&
        /CORS_ORIGINS/.test(error.message),
    );
  });
});
