// Autosave in IndexedDB: one record (the latest state of the run in this browser) under a fixed key.
const DB_NAME = 'robotrain';
const STORE = 'runs';
const KEY = 'autosave';

function openDB() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('could not open IndexedDB'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
}

async function withStore(mode, fn) {
  const db = await openDB();
  try {
    return await new Promise((resolve, reject) => {
      let result;
      let tx;
      try {
        tx = db.transaction(STORE, mode);
        const request = fn(tx.objectStore(STORE));
        if (request) request.onsuccess = () => (result = request.result);
      } catch (error) {
        reject(error);
        return;
      }
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

export function saveRecord(record) {
  return withStore('readwrite', (store) => store.put(record, KEY));
}

export function loadRecord() {
  return withStore('readonly', (store) => store.get(KEY));
}

export function deleteRecord() {
  return withStore('readwrite', (store) => store.delete(KEY));
}

/** A plain-words message for a failed save. */
export function storageErrorMessage(error) {
  const name = error?.name ?? '';
  if (name === 'QuotaExceededError' || /quota/i.test(String(error?.message))) {
    return "Autosave failed: this browser's storage for the page is full (QuotaExceededError). Training goes on; use Save model to keep the weights.";
  }
  return `Autosave failed: ${error?.message ?? error}. Training goes on; use Save model to keep the weights.`;
}
