import adapter from '@sveltejs/adapter-static';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// A static single-page build served by the MC server: every route falls back to 200.html and
// the client loads its data from /trpc. No SSR: the server holds no rendering code.
export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ fallback: '200.html' }),
    }),
  ],
  build: { reportCompressedSize: false },
});
