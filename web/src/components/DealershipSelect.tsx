import type { DealershipList } from "../api/types";
import { useResource } from "../hooks";

/** A super admin's choice of dealership to work in (everyone else works in their own). */
export function DealershipSelect({ value, onChange, className }: { value: string; onChange: (id: string) => void; className?: string }) {
  const dealerships = useResource<DealershipList>("/api/v1/dealerships", { limit: "200" });
  return (
    <label className={className}>
      Dealership
      <select required value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Choose a dealership…</option>
        {(dealerships.data?.items ?? []).map((d) => (
          <option key={d.id} value={d.id}>
            {d.name}
          </option>
        ))}
      </select>
    </label>
  );
}
