/** Sign in with an API token (`decnet api token create`); checked against the API first. */
import { type FormEvent, useState } from "react";
import { ApiClient, ApiError } from "../api/client";

export function Login({ onLogin }: { onLogin: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim();
    if (!value) return;
    setBusy(true);
    setError(null);
    try {
      await new ApiClient(value).topologies();
      onLogin(value);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401
        ? "This token is not valid."
        : `Cannot reach the API: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="login" onSubmit={submit} aria-label="log in">
      <h1>MazeNET</h1>
      <p>Paste an API token (<code>decnet api token create --name NAME --role operator</code>).</p>
      <label htmlFor="token">API token</label>
      <input
        id="token" type="password" autoComplete="off" value={token}
        onChange={(e) => setToken(e.target.value)}
      />
      <button type="submit" disabled={busy || !token.trim()}>Log in</button>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </form>
  );
}
