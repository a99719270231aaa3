/** esbuild bundles imported stylesheets into the build's CSS asset. */
declare module '*.css';
