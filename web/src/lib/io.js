// I/O devices and channels (GET /api/v1/io; not in the live stream), polled every 3 s while a
// page that shows them is open.
import { useEffect } from "preact/hooks";
import { getJson } from "./api.js";
import { createStore, useStore } from "./store.js";

export const io = createStore({ devices: [], loaded: false, error: null, okWall: 0 });
let users = 0;
let timer = null;

async function pollIo() {
  try {
    const r = await getJson("/io");
    io.set({ devices: r.devices || [], loaded: true, error: null, okWall: Date.now() });
  } catch (e) {
    io.set((s) => ({ ...s, error: e.message }));
  }
}

export function useIo() {
  useEffect(() => {
    users += 1;
    if (users === 1) {
      pollIo();
      timer = setInterval(pollIo, 3000);
    }
    return () => {
      users -= 1;
      if (users === 0) clearInterval(timer);
    };
  }, []);
  return useStore(io);
}

export function channels(devices) {
  return devices.flatMap((d) => (d.channels || []).map((c) => ({ ...c, device: d })));
}
