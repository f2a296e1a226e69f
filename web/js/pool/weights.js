// Weight distribution: the pool's current packed weight vector and how each worker gets it. A copy is
// transferred to a worker whose serial is older when it takes a task; when the page is cross-origin isolated
// the vector is written once into a SharedArrayBuffer that every worker re-reads at each task (protocol.js).
import { MSG, sabCreate, sabCapacity, sabWrite } from '../protocol.js';

export class Weights {
  constructor() {
    this.shared = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
    this.current = null; // {serial, data: Float32Array}
    this.serial = 0;
    this.sab = null;
  }

  /** Publish a packed weight vector (Float32Array, owned by the pool from now on). */
  set(data) {
    this.serial += 1;
    this.current = { serial: this.serial, data };
    if (this.shared) {
      if (!this.sab || sabCapacity(this.sab) < data.length) this.sab = sabCreate(data.length);
      sabWrite(this.sab, this.serial, data);
    }
  }

  /** Forget the weights (a new configuration needs new ones before any task runs). */
  clear() {
    this.current = null;
  }

  /** A handle whose worker is new or got a new actor holds no weights yet. */
  forget(handle) {
    handle.weightsSerial = -1;
    handle.sabSent = null;
  }

  /** Bring `handle`'s worker up to date before a task: `request(type, fields, transfer)` or nothing to do. */
  sendTo(handle, request) {
    const { serial, data } = this.current;
    if (this.shared) {
      if (handle.sabSent === this.sab) return null;
      handle.sabSent = this.sab;
      return request(MSG.SET_WEIGHTS, { serial, sab: this.sab }, []);
    }
    if (handle.weightsSerial === serial) return null;
    const copy = data.slice();
    handle.weightsSerial = serial;
    return request(MSG.SET_WEIGHTS, { serial, weights: copy }, [copy.buffer]);
  }
}
