// The routes. Home is in the first bundle (it is where most shoppers land); every
// other page is its own chunk, loaded when first visited, which keeps the first page
// within its budget (docs/storefront.md).
import { lazy } from "react";
import { createBrowserRouter, RouterProvider } from "react-router-dom";
import { Layout } from "./components/Layout";
import { Home } from "./pages/Home";
import { RouteError } from "./pages/RouteError";

const Catalog = lazy(() => import("./pages/Catalog"));
const Search = lazy(() => import("./pages/Search"));
const Product = lazy(() => import("./pages/Product"));
const Cart = lazy(() => import("./pages/Cart"));
const Checkout = lazy(() => import("./pages/Checkout"));
const Order = lazy(() => import("./pages/Order"));
const Login = lazy(() => import("./pages/Login"));
const Register = lazy(() => import("./pages/Register"));
const Account = lazy(() => import("./pages/Account"));
const NotFound = lazy(() => import("./pages/NotFound"));

const router = createBrowserRouter([
  {
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      { path: "/", element: <Home /> },
      { path: "/catalog", element: <Catalog /> },
      { path: "/catalog/:category", element: <Catalog /> },
      { path: "/search", element: <Search /> },
      { path: "/products/:slug", element: <Product /> },
      { path: "/cart", element: <Cart /> },
      { path: "/checkout", element: <Checkout /> },
      { path: "/orders/:number", element: <Order /> },
      // The payment_failed e-mail's link (PAYMENT_RETRY_URL) and the providers' return
      // (PAYMENT_CALLBACK_URL): docs/payments.md.
      { path: "/orders/:number/pay", element: <Order /> },
      { path: "/orders/:number/paid", element: <Order returning /> },
      { path: "/login", element: <Login /> },
      { path: "/register", element: <Register /> },
      { path: "/account", element: <Account /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
