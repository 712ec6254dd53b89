// The search field with autocomplete (`GET /api/v1/search/suggest`): a combobox in
// the WAI-ARIA pattern — arrow keys move through the suggestions, Enter opens one (or
// searches what was typed), Escape closes the list.
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { api, type Schemas } from "../api/client";
import { useI18n } from "../i18n";

type Suggestion = Schemas["Suggestion"];

function target(s: Suggestion): string {
  return s.type === "category" ? `/catalog/${s.slug}` : `/products/${s.slug}`;
}

function labelOf(s: Suggestion): string {
  return "title" in s ? s.title : s.name;
}

export function SearchBox() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [text, setText] = useState(params.get("q") ?? "");
  const [suggestions, setSuggestions] = useState<Suggestion[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);

  // Debounced: one request per pause in typing; a late answer for older text is dropped.
  useEffect(() => {
    const q = text.trim();
    if (q.length < 2) {
      setSuggestions([]);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .GET("/api/v1/search/suggest", { params: { query: { q } }, signal: controller.signal })
        .then(({ data }) => {
          if (data) {
            setSuggestions(data);
            setActive(-1);
          }
        })
        .catch(() => undefined);
    }, 150);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [text]);

  function go(path: string) {
    setOpen(false);
    inputRef.current?.blur();
    navigate(path);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const chosen = active >= 0 ? suggestions[active] : undefined;
    if (chosen) go(target(chosen));
    else if (text.trim()) go(`/search?q=${encodeURIComponent(text.trim())}`);
  }

  function keyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "Escape" && open && suggestions.length) {
      // Close the list, keep the text (a search field clears itself on Escape).
      event.preventDefault();
      setOpen(false);
      setActive(-1);
      return;
    }
    if (!suggestions.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((i) => (i + 1) % suggestions.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => (i <= 0 ? suggestions.length - 1 : i - 1));
    }
  }

  const expanded = open && suggestions.length > 0;
  return (
    <form role="search" className="search" onSubmit={submit}>
      <label htmlFor={`${listId}-input`} className="visually-hidden">
        {t.search.label}
      </label>
      <input
        ref={inputRef}
        id={`${listId}-input`}
        type="search"
        role="combobox"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        placeholder={t.search.placeholder}
        value={text}
        maxLength={200}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onKeyDown={keyDown}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      <button type="submit">{t.search.submit}</button>
      <ul id={listId} role="listbox" aria-label={t.search.suggestions} className="suggestions" hidden={!expanded}>
        {suggestions.map((s, i) => (
          <li
            key={`${s.type}-${s.slug}`}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active}
            onMouseDown={(e) => {
              e.preventDefault();
              go(target(s));
            }}
          >
            {labelOf(s)}
            {s.type === "category" && <span className="suggestion-kind"> · {t.search.category}</span>}
          </li>
        ))}
      </ul>
    </form>
  );
}
