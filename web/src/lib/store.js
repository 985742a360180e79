// A value that components can watch: get(), set(next | fn(prev)), subscribe(fn) → unsubscribe.
// useStore(store) re-renders a Preact component whenever the store is set.
import { useEffect, useReducer } from "preact/hooks";

export function createStore(initial) {
  let value = initial;
  const subscribers = new Set();
  return {
    get: () => value,
    set(next) {
      value = typeof next === "function" ? next(value) : next;
      subscribers.forEach((fn) => fn(value));
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

export function useStore(store) {
  const [, bump] = useReducer((n) => n + 1, 0);
  useEffect(() => store.subscribe(() => bump()), [store]);
  return store.get();
}
