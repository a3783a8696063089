# Build stage: compile TypeScript and keep only production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: no compiler, no dev dependencies, non-root, read-only friendly.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The chart's defaults for a 256Mi memory limit (its values.yaml `nodeOptions` overrides this).
ENV NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=8"
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
# The node image's `node` user, by number so the kubelet can check runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
