import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "./api/http";

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** GETs `path` (null: nothing yet) and keeps the latest answer; `reload` fetches again. */
export function useResource<T>(path: string | null, query?: Record<string, string | undefined>): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(path !== null);
  const key = path === null ? null : path + JSON.stringify(query ?? {});
  const latest = useRef(0);

  const reload = useCallback(async () => {
    if (path === null) return;
    const request = ++latest.current;
    setLoading(true);
    try {
      const result = await api<T>("GET", path, query ? { query } : {});
      if (request === latest.current) {
        setData(result);
        setError(undefined);
      }
    } catch (e) {
      if (request === latest.current) setError(asApiError(e));
    } finally {
      if (request === latest.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { data, error, loading, reload };
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, "network", e instanceof Error ? e.message : "Something went wrong.");
}
