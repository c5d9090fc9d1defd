// Vite bundles imported stylesheets (main.tsx imports styles.css for its side effect).
declare module '*.css';
