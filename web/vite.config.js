// Vite build of the Equalis web application. The CMake build runs it (src/adapters/web) with
// EQUALIS_WEB_OUT set to a folder of the build tree, whose files are compiled into equalisd.
// File names carry no hash: equalisd serves them with validation (ETag), not as immutable.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  // One copy of Preact for the page, its hooks and compat (else hooks fail under `npm run dev`).
  resolve: { dedupe: ["preact"] },
  optimizeDeps: { include: ["preact", "preact/hooks", "preact/compat", "preact/jsx-runtime", "uplot"] },
  build: {
    outDir: process.env.EQUALIS_WEB_OUT || "dist",
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
    rollupOptions: {
      output: {
        entryFileNames: "assets/[name].js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
  // `npm run dev` next to a running equalisd (make run, or EQUALIS_API=http://host:port): the
  // API comes from it.
  server: {
    proxy: {
      "/api": process.env.EQUALIS_API || "http://127.0.0.1:8080",
      "/metrics": process.env.EQUALIS_API || "http://127.0.0.1:8080",
    },
  },
});
