import { EventEmitter } from 'node:events';
import { compactListenerTable } from '../../src/realtime/listener-tables';
import { hasFastProperties } from '../support/v8-shapes';

const tableOf = (emitter: EventEmitter): object =>
  (emitter as unknown as { _events: object })._events;

describe('compactListenerTable', () => {
  it('turns a dictionary-mode listener table into a fast one with the same listeners', () => {
    const emitter = new EventEmitter();
    const calls: string[] = [];
    const symbol = Symbol('event');
    for (const name of ['close', 'error', 'drain', 'data'])
      emitter.on(name, (value: string) => calls.push(`${name}:${value}`));
    emitter.on('data', (value: string) => calls.push(`data2:${value}`));
    emitter.on(symbol, () => calls.push('symbol'));
    expect(hasFastProperties(tableOf(emitter))).toBe(false);

    compactListenerTable(emitter);

    expect(hasFastProperties(tableOf(emitter))).toBe(true);
    expect(Object.getPrototypeOf(tableOf(emitter))).toBeNull();
    expect(emitter.eventNames()).toEqual(['close', 'error', 'drain', 'data', symbol]);
    expect(emitter.listenerCount('data')).toBe(2);
    emitter.emit('data', 'x');
    emitter.emit('close', 'y');
    emitter.emit(symbol);
    expect(calls).toEqual(['data:x', 'data2:x', 'close:y', 'symbol']);
  });

  it('keeps once, removal and new events working afterwards', () => {
    const emitter = new EventEmitter();
    let onces = 0;
    const kept = jest.fn();
    emitter.once('close', () => (onces += 1));
    emitter.on('error', kept);
    compactListenerTable(emitter);

    const added = jest.fn();
    emitter.on('message', added);
    expect(hasFastProperties(tableOf(emitter))).toBe(true);
    emitter.emit('message', 1);
    expect(added).toHaveBeenCalledWith(1);

    emitter.emit('close');
    emitter.emit('close');
    expect(onces).toBe(1);
    expect(emitter.listenerCount('close')).toBe(0);

    emitter.off('error', kept);
    // With its only listener removed, an 'error' throws again, as EventEmitter's does.
    expect(() => emitter.emit('error', new Error('no listener now'))).toThrow('no listener now');
    expect(kept).not.toHaveBeenCalled();
  });

  it('has no inherited keys: an event named like an Object.prototype member is not "listened"', () => {
    const emitter = new EventEmitter();
    emitter.on('close', () => undefined);
    compactListenerTable(emitter);
    expect(emitter.listenerCount('toString')).toBe(0);
    expect(emitter.listenerCount('__proto__')).toBe(0);
    expect(emitter.emit('hasOwnProperty')).toBe(false);
  });

  it('leaves what has no listener table alone', () => {
    expect(() => compactListenerTable(undefined)).not.toThrow();
    expect(() => compactListenerTable({})).not.toThrow();
  });
});
